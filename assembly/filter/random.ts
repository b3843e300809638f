// The random values handed to route(): SplitMix64, seeded from the configuration's `randomSeed` (for
// reproducible weighted splits) or, when that is 0, from the host's randomness (WASI random_get, through
// Math.random's seeding).

export class Random {
  private state: u64;

  constructor(seed: u64) {
    if (seed == 0) {
      // 53 random bits from the host, twice.
      seed = (<u64>(Math.random() * 9007199254740992.0) << 11) ^ <u64>(Math.random() * 9007199254740992.0);
    }
    this.state = seed;
  }

  next(): u64 {
    this.state += 0x9e3779b97f4a7c15;
    let z = this.state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
}
