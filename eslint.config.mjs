// ESLint, run by `npm run lint` (scripts/lint.sh) and so by `npm test`. Correctness rules with type
// information; nothing about layout (Prettier owns it: .prettierrc.json).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Generated (ts-proto, `npm run proto:gen`), built, installed or written by runs.
  { ignores: ['**/node_modules/', '**/dist/', 'modules/proto/src/gen/', '.udaconnect/', 'test-output/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file gets the nearest tsconfig.json: the root one for modules/*/src and test, db/,
        // scripts/ and test/; modules/frontend's own (DOM, JSX, bundler resolution) for the page.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Promises: every one is awaited, returned, or handed to `void` with a reason; none goes
      // where a callback's result is ignored (express 5 handles async handlers; grpc-js does not,
      // so async gRPC handlers go through unaryHandler in @udaconnect/common).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // An async function without await is fine: it still turns a throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // `_next` (express tells error handlers by their four parameters) and `{ omitted: _x, ...rest }`.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `let server; … server = await start(…)` where a callback made before reads `server?.…`:
      // a const would still be in its temporal dead zone when that callback runs.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests inspect dynamic shapes (HTTP bodies, JSON and YAML files, dynamically loaded protos)
    // and their assertions check them: there `any` is allowed, not worth a type per response.
    files: ['**/test/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // JavaScript config files (jest's CommonJS, this module) are in no tsconfig: no type information.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The page: browser globals and the rules of hooks (the React Compiler's rules in
    // recommended-latest are left out: they advise on effect design, not correctness).
    files: ['modules/frontend/src/**/*.{ts,tsx}', 'modules/frontend/test/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
);
