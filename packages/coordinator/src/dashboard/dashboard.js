// The ringtrain dashboard: listens to the coordinator's /events stream (the same document as
// /status) and draws it with uPlot, served from this coordinator so the page works offline.
// Every update replaces the charts' data and rebuilds the tables from the newest status.
/* global uPlot */
(() => {
  'use strict';

  const COLORS = {
    accent: '#2563eb',
    compute: '#2563eb',
    allReduce: '#0d9488',
    waiting: '#f59e0b',
    test: '#db2777',
    faint: 'rgba(37, 99, 235, 0.28)',
    axis: '#64708a',
    grid: '#eef1f5',
  };
  const CHART_HEIGHT = 230;
  const PHASE_NAMES = {
    rendezvous: 'waiting for workers',
    waiting: 'waiting for replacements',
    starting: 'forming a generation',
    training: 'training',
    evaluating: 'evaluating',
    checkpointing: 'checkpointing',
    finished: 'finished',
    failed: 'failed',
  };

  /** @type {Record<string, any>} */
  const charts = {};
  /** The newest status, and when it arrived (for the clocks between updates). */
  let latest = null;
  let receivedAtMs = 0;
  let updates = 0;
  /** Raw step-time parts per rank, for the bar chart's legend (its bars are drawn stacked). */
  let stepParts = { compute: [], allReduce: [], waiting: [] };

  // ---------------------------------------------------------------- formatting

  const byId = (id) => document.getElementById(id);
  const setText = (id, text) => {
    const node = byId(id);
    if (node !== null && node.textContent !== text) node.textContent = text;
  };
  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const fixed = (v, digits) => (isNum(v) ? v.toFixed(digits) : '–');
  const pct = (v, digits = 1) => (isNum(v) ? `${(v * 100).toFixed(digits)}%` : '–');
  const ms = (v) => (isNum(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');
  const rate = (v) => (isNum(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');

  /** Tick labels with as many decimals as the distance between ticks needs. */
  function ticks(splits) {
    const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
    const decimals = step >= 1 || step === 0 ? 0 : Math.min(4, Math.ceil(-Math.log10(step) - 1e-9));
    return splits.map((v) => v.toFixed(decimals));
  }

  /** Exponential moving average with bias correction, skipping missing values. */
  function smooth(values, alpha = 0.12) {
    let average = 0;
    let weight = 0;
    return values.map((v) => {
      if (!isNum(v)) return null;
      average = alpha * v + (1 - alpha) * average;
      weight = alpha + (1 - alpha) * weight;
      return average / weight;
    });
  }

  function duration(seconds) {
    if (!isNum(seconds)) return '–';
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
    return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
  }

  function compressionText(c) {
    if (c === undefined || c.method === 'none') return 'none (f32)';
    if (c.method === 'powersgd') return `PowerSGD rank ${c.rank}, from step ${c.startStep}`;
    return `${c.method} with error feedback`;
  }

  function bytes(n) {
    if (!isNum(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
  }

  /** A DOM element with text or children; text never goes through innerHTML. */
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else if (key.startsWith('data-') || key === 'title' || key === 'colspan') node.setAttribute(key, String(value));
      else node.style.setProperty(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  // ---------------------------------------------------------------- charts

  const axis = (extra = {}) => ({
    stroke: COLORS.axis,
    font: '11px system-ui, sans-serif',
    grid: { stroke: COLORS.grid, width: 1 },
    ticks: { stroke: COLORS.grid, width: 1, size: 4 },
    ...extra,
  });

  function makeChart(id, options, data) {
    const container = byId(id);
    const width = Math.max(280, container.clientWidth);
    const chart = new uPlot({ width, height: CHART_HEIGHT, legend: { live: true }, cursor: { drag: { x: false, y: false } }, ...options }, data, container);
    new ResizeObserver(() => {
      const next = Math.max(280, container.clientWidth);
      if (next !== chart.width) chart.setSize({ width: next, height: CHART_HEIGHT });
    }).observe(container);
    return chart;
  }

  function createCharts() {
    charts.throughput = makeChart(
      'chart-throughput',
      {
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.12] } },
        axes: [axis(), axis({ size: 50, values: (_u, splits) => ticks(splits) })],
        series: [{ label: 'time', value: (_u, v) => (isNum(v) ? new Date(v * 1000).toLocaleTimeString() : '–') }, { label: 'examples/s', stroke: COLORS.accent, width: 2, fill: 'rgba(37, 99, 235, 0.10)', value: (_u, v) => rate(v), points: { show: false } }],
      },
      [[], []],
    );
    const stepAxis = axis({ values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) });
    charts.loss = makeChart(
      'chart-loss',
      {
        scales: { x: { time: false }, y: { range: (_u, min, max) => [0, Math.max(0.1, max, min) * 1.08] } },
        axes: [stepAxis, axis({ size: 50, values: (_u, splits) => ticks(splits) })],
        series: [
          { label: 'step', value: (_u, v) => (isNum(v) ? String(v) : '–') },
          { label: 'train (step)', stroke: COLORS.faint, width: 1, value: (_u, v) => fixed(v, 4), points: { show: false } },
          { label: 'train (smoothed)', stroke: COLORS.accent, width: 2.25, value: (_u, v) => fixed(v, 4), points: { show: false } },
          { label: 'test', stroke: COLORS.test, width: 2, spanGaps: true, value: (_u, v) => fixed(v, 4), points: { show: true, size: 8, fill: COLORS.test } },
        ],
      },
      [[], [], [], []],
    );
    charts.accuracy = makeChart(
      'chart-accuracy',
      {
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [stepAxis, axis({ size: 50, values: (_u, splits) => splits.map((v) => `${Math.round(v * 100)}%`) })],
        series: [
          { label: 'step', value: (_u, v) => (isNum(v) ? String(v) : '–') },
          { label: 'train (step)', stroke: COLORS.faint, width: 1, value: (_u, v) => pct(v), points: { show: false } },
          { label: 'train (smoothed)', stroke: COLORS.accent, width: 2.25, value: (_u, v) => pct(v), points: { show: false } },
          { label: 'test', stroke: COLORS.test, width: 2, spanGaps: true, value: (_u, v) => pct(v), points: { show: true, size: 8, fill: COLORS.test } },
        ],
      },
      [[], [], [], []],
    );
    // Stacked bars: each series is drawn from 0 to its running total, tallest first, so the
    // shorter ones cover it from below; the legend shows each part's own value.
    const bars = uPlot.paths.bars({ size: [0.5, 90], align: 0 });
    const part = (name) => (_u, _v, _s, i) => (i === null || i === undefined ? '–' : `${ms(stepParts[name][i])} ms`);
    charts.stepTime = makeChart(
      'chart-step-time',
      {
        scales: {
          x: { time: false, range: (_u, min, max) => (isNum(min) && isNum(max) ? [min - 0.6, max + 0.6] : [-0.6, 1.6]) },
          y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.12] },
        },
        axes: [
          axis({ splits: (u) => [...u.data[0]], values: (_u, splits) => splits.map((v) => `rank ${v}`), grid: { show: false } }),
          axis({ size: 50, values: (_u, splits) => ticks(splits) }),
        ],
        series: [
          { label: 'rank', value: (_u, v) => (isNum(v) ? String(v) : '–') },
          { label: 'waiting', stroke: COLORS.waiting, fill: COLORS.waiting, width: 0, paths: bars, points: { show: false }, value: part('waiting') },
          { label: 'all-reduce', stroke: COLORS.allReduce, fill: COLORS.allReduce, width: 0, paths: bars, points: { show: false }, value: part('allReduce') },
          { label: 'compute', stroke: COLORS.compute, fill: COLORS.compute, width: 0, paths: bars, points: { show: false }, value: part('compute') },
        ],
      },
      [[], [], [], []],
    );
  }

  function updateCharts(s) {
    const series = s.series;
    charts.throughput.setData([series.t, series.examplesPerSecond]);
    charts.loss.setData([series.step, series.loss, smooth(series.loss), series.testLoss]);
    charts.accuracy.setData([series.step, series.accuracy, smooth(series.accuracy), series.testAccuracy]);
    // Workers that left keep their last split; a connected worker comes first and wins its rank.
    const seen = new Set();
    const ranked = s.workers.filter((w) => {
      if (w.rank === null || w.stepTimeMs === null || seen.has(w.rank)) return false;
      seen.add(w.rank);
      return true;
    });
    ranked.sort((a, b) => a.rank - b.rank);
    stepParts = {
      compute: ranked.map((w) => w.stepTimeMs.compute),
      allReduce: ranked.map((w) => w.stepTimeMs.allReduce),
      waiting: ranked.map((w) => w.stepTimeMs.waiting),
    };
    const computeTop = stepParts.compute;
    const allReduceTop = ranked.map((_w, i) => computeTop[i] + stepParts.allReduce[i]);
    const waitingTop = ranked.map((_w, i) => allReduceTop[i] + stepParts.waiting[i]);
    charts.stepTime.setData([ranked.map((w) => w.rank), waitingTop, allReduceTop, computeTop]);
  }

  // ---------------------------------------------------------------- page

  function runTitle(run) {
    const spec = run.spec;
    const width = spec.widthMultiplier === 1 ? '' : `, width ×${spec.widthMultiplier}`;
    return `ResNet-${spec.depth} (${spec.stem} stem, ${spec.imageSize}×${spec.imageSize}${width}) · ${run.epochs} epoch${run.epochs === 1 ? '' : 's'} · global batch ${run.globalBatchSize}`;
  }

  function renderProgress(s) {
    const p = s.progress;
    setText('epoch', String(Math.min(p.epoch + 1, p.epochs)));
    setText('epochs', String(p.epochs));
    setText('step', String(p.stepsDone));
    byId('step').dataset.value = String(p.stepsDone);
    setText('total-steps', p.totalSteps === null ? '–' : String(p.totalSteps));
    const percent = Math.round(p.fraction * 1000) / 10;
    byId('bar-fill').style.width = `${percent}%`;
    byId('progressbar').setAttribute('aria-valuenow', String(percent));
    renderClocks();
  }

  /** Elapsed time and ETA move on between updates while the run is active. */
  function renderClocks() {
    if (latest === null) return;
    const p = latest.progress;
    const active = latest.phase !== 'finished' && latest.phase !== 'failed' && p.startedAtMs !== null;
    const sinceS = active ? (Date.now() - receivedAtMs) / 1000 : 0;
    setText('elapsed', p.startedAtMs === null ? '–' : duration(p.elapsedSeconds + sinceS));
    if (latest.phase === 'finished') setText('eta', 'done');
    else setText('eta', p.etaSeconds === null ? '–' : duration(Math.max(0, p.etaSeconds - sinceS)));
  }

  function renderStats(s) {
    // Once the run is over the recent rate decays to nothing; the whole run's mean says more.
    const over = s.phase === 'finished' || s.phase === 'failed';
    setText('throughput', rate(over ? s.throughput.meanExamplesPerSecond : s.throughput.examplesPerSecond));
    setText('throughput-note', over ? 'examples/s, whole run' : `examples/s, last ${s.throughput.windowSeconds} s`);
    setText('train-loss', fixed(s.latest.epochTrainLoss, 4));
    setText('train-accuracy', pct(s.latest.epochTrainAccuracy));
    setText('test-accuracy', pct(s.latest.testAccuracy));
    const evaluated = s.epochs.filter((e) => e.testAccuracy !== null).length;
    setText('test-accuracy-note', evaluated === 0 ? 'after each epoch' : `after epoch ${s.epochs[s.epochs.length - 1].epoch + 1}`);
    const connected = s.workers.filter((w) => w.connected).length;
    setText('workers-count', s.run.worldSize > 0 ? String(s.run.worldSize) : String(connected));
    setText('workers-note', s.run.worldSize > 0 ? `in the ring (generation ${s.run.generation})` : `joined, ${s.run.minWorkers} needed`);
  }

  function renderWorkers(s) {
    const body = byId('workers-body');
    const rows = s.workers.map((w) => {
      const t = w.stepTimeMs;
      const total = t === null ? 0 : t.compute + t.allReduce + t.waiting;
      const share = (v) => `${total > 0 ? (v / total) * 100 : 0}%`;
      const split =
        t === null
          ? el('span', { className: 'split-text', text: '–' })
          : el('div', { className: 'split' }, [
              el('div', { className: 'split-bar', title: `compute ${ms(t.compute)} ms, all-reduce ${ms(t.allReduce)} ms, waiting ${ms(t.waiting)} ms` }, [
                el('span', { className: 'compute', width: share(t.compute) }),
                el('span', { className: 'allreduce', width: share(t.allReduce) }),
                el('span', { className: 'waiting', width: share(t.waiting) }),
              ]),
              el('span', { className: 'split-text', text: `${ms(t.compute)} · ${ms(t.allReduce)} · ${ms(t.waiting)} ms` }),
            ]);
      const row = el('tr', { className: w.connected ? '' : 'left', 'data-worker': w.workerId }, [
        el('td', { text: w.rank === null ? '–' : String(w.rank) }),
        el('td', { className: 'mono', text: w.workerId }),
        el('td', { text: w.host }),
        el('td', { text: w.backend }),
        el('td', {}, [el('span', { className: 'state', 'data-state': w.state, text: w.state })]),
        el('td', { className: 'num', text: rate(w.examplesPerSecond) }),
        el('td', { className: 'num', text: String(w.steps) }),
        el('td', {}, [split]),
        // Silence that grows is a partition or a frozen process, before the heartbeat timeout cuts it.
        el('td', { className: 'num', text: w.connected ? `${w.silentSeconds.toFixed(1)} s ago` : '–' }),
      ]);
      return row;
    });
    if (rows.length === 0) rows.push(el('tr', { className: 'empty' }, [el('td', { colspan: 9, text: 'No worker has joined yet.' })]));
    body.replaceChildren(...rows);
  }

  function renderMembership(s) {
    const m = s.membership;
    const started = m.generations[0]?.openedAtMs ?? s.atMs;
    const rows = m.generations.map((g) =>
      el('tr', { 'data-cause': g.cause }, [
        el('td', { text: String(g.generation) }),
        el('td', { text: g.cause.replace('-', ' ') }),
        el('td', { className: 'num', text: String(g.step) }),
        el('td', { className: 'num', text: String(g.worldSize) }),
        el('td', { className: 'num', text: `+${duration((g.openedAtMs - started) / 1000)}` }),
        el('td', { className: 'num', text: g.readyAtMs === null ? 'forming' : `${((g.readyAtMs - g.openedAtMs) / 1000).toFixed(2)} s` }),
        el('td', { className: 'mono', text: g.workerIds.join(', ') }),
      ]),
    );
    if (rows.length === 0) rows.push(el('tr', { className: 'empty' }, [el('td', { colspan: 7, text: 'No generation yet.' })]));
    byId('membership-body').replaceChildren(...rows.reverse());
    const scaling = m.batchScaling === 'fixed-global' ? 'global batch kept' : 'per-worker batch kept, learning rate scaled';
    setText('membership-note', `${m.recoveries} recoveries (${m.recoverySeconds.toFixed(1)} s), ${m.stepsDiscarded} steps discarded; ${scaling} when the world changes`);
  }

  function renderEpochs(s) {
    const rows = s.epochs.map((e) =>
      el('tr', {}, [
        el('td', { text: String(e.epoch + 1) }),
        el('td', { className: 'num', text: fixed(e.trainLoss, 4) }),
        el('td', { className: 'num', text: pct(e.trainAccuracy, 2) }),
        el('td', { className: 'num', text: fixed(e.testLoss, 4) }),
        el('td', { className: 'num', text: pct(e.testAccuracy, 2) }),
        el('td', { className: 'num', text: rate(e.examplesPerSecond) }),
        el('td', { className: 'num', text: duration(e.trainingSeconds) }),
      ]),
    );
    if (rows.length === 0) rows.push(el('tr', { className: 'empty' }, [el('td', { colspan: 7, text: 'No epoch has ended yet.' })]));
    byId('epochs-body').replaceChildren(...rows);
  }

  function renderConfig(s) {
    const r = s.run;
    const lr = r.learningRate;
    const schedule = [`${lr.schedule}, base ${lr.baseLr}`];
    if (lr.warmupSteps > 0) schedule.push(`${lr.warmupSteps} warm-up steps`);
    if (lr.schedule === 'cosine' && lr.minLr > 0) schedule.push(`down to ${lr.minLr}`);
    if (lr.schedule === 'step') schedule.push(`×${lr.gamma} after epochs ${lr.milestoneEpochs.join(', ') || '–'}`);
    const entries = [
      ['Model', `ResNet-${r.spec.depth}, ${r.spec.stem} stem, width ×${r.spec.widthMultiplier}`],
      ['Input', `${r.spec.imageSize}×${r.spec.imageSize}×${r.spec.channels}, ${r.spec.classes} classes`],
      ['Data', `${r.trainExamples.toLocaleString('en')} training, ${r.testExamples.toLocaleString('en')} test images`],
      ['Epochs', String(r.epochs)],
      ['Batch', r.batchSizePerWorker === null ? `${r.globalBatchSize} global` : `${r.globalBatchSize} global, ${r.batchSizePerWorker} per worker`],
      ['Workers', `${r.worldSize || '–'} in the ring (min ${r.minWorkers}, max ${r.maxWorkers})`],
      ['Learning rate', schedule.join(', ')],
      ['SGD', `momentum ${r.momentum}${r.nesterov ? ' (Nesterov)' : ''}, weight decay ${r.weightDecay}`],
      ['Augmentation', r.augment ? `${r.cropPaddingPx > 0 ? `random crop (${r.cropPaddingPx} px padding) and ` : ''}${r.alternateFlips ? 'alternating' : 'random'} flip` : 'none'],
      ['Backends', r.backends.length === 0 ? '–' : r.backends.join(', ')],
      ['Convolutions', r.precision === 'bf16' ? 'bf16 inputs, float32 accumulation and master weights' : 'float32'],
      ['All-reduce buckets', `up to ${bytes(r.maxBucketBytes)}`],
      ['Gradient compression', compressionText(r.compression)],
      ['Weight checksums', r.checksumEverySteps === 0 ? 'off' : `every ${r.checksumEverySteps} steps`],
      ['Checkpoints', r.checkpointDir === null ? 'off' : r.checkpointDir],
      ['Seed', String(r.samplerSeed)],
    ];
    byId('config').replaceChildren(...entries.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  }

  function render(s) {
    latest = s;
    receivedAtMs = Date.now();
    updates += 1;
    setText('run-title', runTitle(s.run));
    const phase = byId('phase');
    phase.dataset.phase = s.phase;
    setText('phase', PHASE_NAMES[s.phase] ?? s.phase);
    const failure = byId('failure');
    failure.hidden = s.failure === null;
    if (s.failure !== null) {
      setText('failure-code', s.failure.code);
      setText('failure-message', s.failure.message);
    }
    renderProgress(s);
    renderStats(s);
    updateCharts(s);
    renderWorkers(s);
    renderMembership(s);
    renderEpochs(s);
    renderConfig(s);
    setText('footer-version', `ringtrain ${s.version}`);
    setText('updated', `updated ${new Date(s.atMs).toLocaleTimeString()}`);
    document.title = `${PHASE_NAMES[s.phase] ?? s.phase} · step ${s.progress.stepsDone} · ringtrain`;
  }

  function setConnection(state, text) {
    const node = byId('connection');
    node.dataset.state = state;
    setText('connection', text);
  }

  function connect() {
    const source = new EventSource('/events');
    source.addEventListener('status', (event) => {
      setConnection('live', 'live');
      render(JSON.parse(event.data));
    });
    source.addEventListener('open', () => setConnection('live', 'live'));
    source.addEventListener('error', () => {
      const over = latest !== null && (latest.phase === 'finished' || latest.phase === 'failed');
      setConnection('lost', over ? 'coordinator gone; last state shown' : 'reconnecting…');
    });
  }

  function start() {
    createCharts();
    // For tests and the curious: the charts and the newest status.
    window.ringtrainDashboard = {
      charts,
      get status() {
        return latest;
      },
      get updates() {
        return updates;
      },
    };
    setInterval(renderClocks, 1000);
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
