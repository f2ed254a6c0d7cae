/**
 * Import-cycle check (test/import-cycles.test.ts runs it; `node_modules/.bin/depcruise --config
 * .dependency-cruiser.cjs packages test bench scripts` by hand). Sources are parsed with swc, which keeps
 * type-only imports: a circle made only of `import type` still couples two files (house style: no import
 * cycles). TypeScript 7 has no compiler API yet, so dependency-cruiser's tsc parser cannot be used.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Files import each other (directly or through others). Move the shared type or function to where it belongs, or give the helper a narrow interface.',
      severity: 'error',
      from: {},
      to: { circular: true }
    }
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|\\.tools)/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] }
  }
}
