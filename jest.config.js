/** One jest run for every module: unit, integration (real PostGIS + Kafka) and static tests. */
module.exports = {
  testEnvironment: 'node',
  rootDir: __dirname,
  roots: ['<rootDir>/modules', '<rootDir>/test', '<rootDir>/db'],
  testMatch: ['**/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  // test/faults stops shared servers and test/replica clones the database: they run afterwards, alone (jest.faults.config.js).
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/modules/frontend/', '<rootDir>/test/faults/', '<rootDir>/test/replica/'],
  transform: { '^.+\\.[tj]sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  // jose ships ES modules only; swc turns it into CommonJS like our own sources.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
