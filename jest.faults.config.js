/**
 * The suites that run alone, in band, after the rest: fault injection (it stops the shared broker and
 * database, and starts a three-broker cluster) and the read replica (test/replica: cloning the primary
 * with pg_basebackup, then replaying every write, would slow the parallel suites' timing checks).
 */
const base = require('./jest.config');
module.exports = {
  ...base,
  roots: ['<rootDir>/test/faults', '<rootDir>/test/replica'],
  testMatch: ['<rootDir>/test/faults/**/*.test.ts', '<rootDir>/test/replica/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
