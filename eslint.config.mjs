// Lint with typescript-eslint's type-aware rules: the ones that catch a promise nobody
// awaits (a floating promise hides an error and can outlive the call that made it).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["gen/**", "dist/**", "dist.*/**", "node_modules/**", ".tools/**", ".tether-run/**", "build/**", "bin/**", "**/*.mjs", "**/*.cjs"] },
  {
    files: ["**/*.ts", "**/*.tsx"],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: false }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unnecessary-type-assertion": "error",
      // Passing on a caught value of unknown type is fine; inventing a non-Error is not.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      "@typescript-eslint/only-throw-error": ["error", { allowThrowingUnknown: true }],
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
  {
    // zod's named `z` is its whole module object: every export stays in the bundle's shared zod
    // chunk (its ≈ 40 locales too: 760 KB, ≈ 35 ms of CPU to load, vs 267 KB and ≈ 23 ms).
    files: ["**/*.ts", "**/*.tsx"],
    ignores: ["**/*.test.ts", "test/**", "bench/**"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportDeclaration[source.value='zod'][importKind!='type'] > :matches(ImportSpecifier[imported.name='z'][importKind!='type'], ImportDefaultSpecifier)",
          message: 'use import * as z from "zod" (the named z keeps all of zod, its locales too, in the CLI bundle)',
        },
        { selector: "ImportExpression[source.value='zod']", message: "import a module of ours that uses zod (import(\"zod\") keeps all of zod, its locales too, in the CLI bundle)" },
      ],
    },
  },
);
