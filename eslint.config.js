// Lint rules for every package. The module-boundary rule keeps the three planes apart:
// compute (model, data) knows nothing of sockets or metrics; the worker never reaches into
// the coordinator; the protocol package depends on nothing of ours.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            {
              sourceTag: 'layer:compute',
              onlyDependOnLibsWithTags: ['layer:compute'],
              bannedExternalImports: ['ws', 'prom-client', 'msgpackr'],
            },
            { sourceTag: 'layer:protocol', onlyDependOnLibsWithTags: [], bannedExternalImports: ['@tensorflow/*', 'prom-client'] },
            { sourceTag: 'scope:worker', notDependOnLibsWithTags: ['scope:coordinator'] },
            { sourceTag: 'layer:metrics', onlyDependOnLibsWithTags: [], bannedExternalImports: ['@tensorflow/*', 'ws'] },
            { sourceTag: 'layer:app', onlyDependOnLibsWithTags: ['layer:compute', 'layer:protocol', 'layer:metrics', 'layer:app'] },
            { sourceTag: 'layer:cli', onlyDependOnLibsWithTags: ['layer:compute', 'layer:protocol', 'layer:metrics', 'layer:app'] },
          ],
        },
      ],
    },
  },
];
