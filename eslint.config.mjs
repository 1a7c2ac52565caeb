// ESLint for the browser scripts (classic scripts sharing `window.vig`, bundled in the order
// vigparent/assets.py declares), the service worker, the Node unit tests (tests/js/) and the
// benches' Node peers (bench/peers/).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", "vigparent/static/gen/", ".venv/", "test-artifacts/"] },
  js.configs.recommended,
  {
    files: ["vigparent/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "no-implicit-globals": "error",
      strict: ["error", "function"],
    },
  },
  {
    files: ["vigparent/static/js/sw.js"],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
  {
    files: ["tests/**/*.mjs", "bench/**/*.mjs", "eslint.config.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
