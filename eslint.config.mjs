import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/generated/**', 'apps/console/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'onnxruntime-node', message: 'Only libs/gpu-kernels imports onnxruntime-node.' }] },
      ],
    },
  },
  {
    files: ['libs/gpu-kernels/src/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The runner scripts are plain CommonJS, loaded before any TypeScript hook exists.
    files: ['tools/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
