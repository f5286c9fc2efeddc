/**
 * Starting a coordinator from the command line: load the data, build the starting state,
 * listen.
 */
import { loadFashionMnist } from '@ringtrain/data';
import { CoordinatorServer, createInitialState, type CoordinatorOptions, type Logger, type ProgressUpdate } from '@ringtrain/coordinator';

export interface DataFlags {
  dataDir?: string;
  allowDownload: boolean;
  limitTrain?: number;
  limitTest?: number;
}

/** The dashboard's address for the coordinator at `url` (`ws://host:port` -> `http://host:port/`). */
export function dashboardUrl(url: string): string {
  const u = new URL(url);
  // A coordinator bound to every interface is reached on this machine through the loopback.
  const host = u.hostname === '0.0.0.0' || u.hostname === '[::]' ? '127.0.0.1' : u.hostname;
  return `${u.protocol === 'wss:' ? 'https' : 'http'}://${host}:${u.port}/`;
}

export async function startCoordinator(
  options: CoordinatorOptions,
  data: DataFlags,
  deps: { logger: Logger; onProgress?: (p: ProgressUpdate) => void },
): Promise<{ server: CoordinatorServer; url: string; port: number }> {
  const loaded = await loadFashionMnist({
    ...(data.dataDir === undefined ? {} : { dataDir: data.dataDir }),
    allowDownload: data.allowDownload,
    ...(data.limitTrain === undefined ? {} : { limitTrain: data.limitTrain }),
    ...(data.limitTest === undefined ? {} : { limitTest: data.limitTest }),
  });
  deps.logger.info({ source: loaded.location.source, train: loaded.train.count, test: loaded.test.count }, `Fashion-MNIST from ${loaded.location.dir}`);
  const server: CoordinatorServer = new CoordinatorServer(options, {
    data: { train: loaded.train, test: loaded.test },
    initialState: (): Promise<Uint8Array> =>
      createInitialState(server.options.model, { momentum: server.options.momentum, nesterov: server.options.nesterov, weightDecay: server.options.weightDecay }),
    logger: deps.logger,
    ...(deps.onProgress === undefined ? {} : { onProgress: deps.onProgress }),
  });
  const { url, port } = await server.start();
  return { server, url, port };
}
