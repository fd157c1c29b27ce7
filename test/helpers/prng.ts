// The seeded PRNG the tests share (the library's own, so FaultStore schedules and test data agree).
export { prng } from "../../src/prng.js";
