/** Fault-injection tests: they stop the shared broker and database, so they run alone, in band. */
const base = require('./jest.config');
module.exports = {
  ...base,
  roots: ['<rootDir>/test/faults'],
  testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};
