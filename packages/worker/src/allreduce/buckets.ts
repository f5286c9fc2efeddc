/**
 * How a flat vector is cut for the ring: into buckets of at most `bucketElements` in a fixed
 * order (the same on every rank, since it depends only on the length), and each bucket into
 * `worldSize` segments whose lengths differ by at most one. Segment s of a bucket of L elements
 * holds floor(L/N) elements, plus one when s < L mod N.
 */
export class BucketPlan {
  /** The number of buckets. */
  readonly count: number;

  constructor(
    readonly length: number,
    readonly worldSize: number,
    readonly bucketElements: number,
  ) {
    this.count = Math.ceil(length / bucketElements);
  }

  bucketStart(bucket: number): number {
    return bucket * this.bucketElements;
  }

  bucketLength(bucket: number): number {
    return Math.min(this.bucketElements, this.length - bucket * this.bucketElements);
  }

  /** The first element of `segment` of `bucket`, as an index into the whole vector. */
  segmentStart(bucket: number, segment: number): number {
    const length = this.bucketLength(bucket);
    const base = Math.floor(length / this.worldSize);
    return this.bucketStart(bucket) + segment * base + Math.min(segment, length % this.worldSize);
  }

  segmentLength(bucket: number, segment: number): number {
    const length = this.bucketLength(bucket);
    return Math.floor(length / this.worldSize) + (segment < length % this.worldSize ? 1 : 0);
  }
}
