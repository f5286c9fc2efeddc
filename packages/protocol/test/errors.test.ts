import { describe, expect, it } from 'vitest';
import { BadTokenError, FrameTooLargeError, PROTOCOL_VERSION, closeFrameFor, errorMessageFor, recoveryOf } from '../src/index.ts';

describe('closing a connection after an error', () => {
  it("uses the error's close code and puts its code in the reason", () => {
    expect(closeFrameFor(new BadTokenError('the token is not the run token'))).toEqual({
      code: 1008,
      reason: 'RINGTRAIN_BAD_TOKEN: the token is not the run token',
    });
  });

  it('uses 1011 for errors that are not protocol errors', () => {
    expect(closeFrameFor(new Error('disk full')).code).toBe(1011);
  });

  it('keeps the reason within the 123 bytes a close frame carries, cutting at a character', () => {
    const { reason } = closeFrameFor(new FrameTooLargeError('é'.repeat(200)));
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason.endsWith('...')).toBe(true);
    expect(reason).not.toContain('\uFFFD');
  });

  it("builds the 'error' message that tells the other side why", () => {
    expect(errorMessageFor(new BadTokenError('nope'))).toEqual({
      v: PROTOCOL_VERSION,
      type: 'error',
      code: 'RINGTRAIN_BAD_TOKEN',
      message: 'nope',
    });
    expect(errorMessageFor(new Error('boom')).code).toBe('RINGTRAIN_INTERNAL');
  });
});

describe('closing after errors of other packages', () => {
  it('uses their own closeCode when they carry one a close frame may hold', () => {
    const error = Object.assign(new Error('ranks disagree'), { code: 'RINGTRAIN_ALLREDUCE_MISMATCH', closeCode: 1008 });
    expect(closeFrameFor(error)).toEqual({ code: 1008, reason: 'RINGTRAIN_ALLREDUCE_MISMATCH: ranks disagree' });
  });

  it('falls back to 1011 for a reserved code such as 1006', () => {
    expect(closeFrameFor(Object.assign(new Error('x'), { closeCode: 1006 })).code).toBe(1011);
  });

  it.each([
    ['RINGTRAIN_JOIN_REFUSED', 'retryable'],
    ['RINGTRAIN_STRAGGLER_EVICTED', 'retryable'],
    ['RINGTRAIN_HELLO_TIMEOUT', 'retryable'],
    ['RINGTRAIN_BAD_TOKEN', 'fatal'],
    ['RINGTRAIN_WRONG_VERSION', 'fatal'],
    ['RINGTRAIN_RUN_OVER', 'fatal'],
    ['RINGTRAIN_SOMETHING_NEW', 'fatal'],
  ])('classes %s as %s for a worker deciding whether to connect again', (code, recovery) => {
    expect(recoveryOf(code)).toBe(recovery);
  });
});
