/**
 * The import rules of src/ (docs/architecture.md, "Layout"), checked by `npm run lint`:
 * data flows one way, HTTP → log → delivery → destinations, and no stage knows the ones that
 * read from it. audit-events/ is the model every stage shares; config/, errors.ts, logger.ts,
 * durable-files.ts and stale-temp-files.ts are the foundations under everything.
 */
const STAGES_ABOVE_THE_LOG = '^src/lib/(delivery|audit-destinations|http|audit-events-api|audit-module)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No file imports a file that imports it back.',
      from: { path: '^src' },
      to: { circular: true },
    },
    {
      name: 'foundations-import-no-stage',
      severity: 'error',
      comment:
        'config/, errors, logger, durable-files and stale-temp-files are used by every stage and use none.',
      from: { path: '^src/lib/(config/|errors|logger|durable-files|stale-temp-files)' },
      to: { path: '^src/lib/(audit-|delivery|http)' },
    },
    {
      name: 'model-imports-no-stage',
      severity: 'error',
      comment: 'The envelope, its validation, the record and the handlers know no stage of the flow.',
      from: { path: '^src/lib/audit-events/' },
      to: { path: '^src/lib/(audit-journal|delivery|audit-destinations|http|audit-events-api|audit-module)' },
    },
    {
      name: 'screenshots-know-no-stage',
      severity: 'error',
      comment:
        'audit-screenshots/ takes a plain request and answers paths: it knows no envelope, record, log, ' +
        'delivery or sink, only the foundations.',
      from: { path: '^src/lib/audit-screenshots/' },
      to: { path: '^src/lib/(audit-(?!screenshots/)|delivery|http)' },
    },
    {
      name: 'log-knows-no-reader',
      severity: 'error',
      comment: 'The log knows nothing of records, delivery or sinks.',
      from: { path: '^src/lib/audit-journal/' },
      to: { path: STAGES_ABOVE_THE_LOG },
    },
    {
      name: 'sinks-know-no-log',
      severity: 'error',
      comment: 'A destination writes batches; it knows nothing of the log or of delivery.',
      from: { path: '^src/lib/audit-destinations/' },
      to: { path: '^src/lib/(audit-journal|delivery|http|audit-events-api|audit-module)' },
    },
    {
      name: 'delivery-knows-no-http',
      severity: 'error',
      from: { path: '^src/lib/delivery/' },
      to: { path: '^src/lib/(http|audit-events-api|audit-module)' },
    },
    {
      name: 'http-knows-no-log',
      severity: 'error',
      comment: 'The API hands accepted envelopes to an injected accept(); it knows no log, delivery or sink.',
      from: { path: '^src/lib/(http/|audit-events-api)' },
      to: { path: '^src/lib/(audit-journal|delivery|audit-destinations|audit-module)' },
    },
    {
      name: 'only-entry-points-compose',
      severity: 'error',
      comment: 'audit-module.ts composes the stages; only the entry points import it.',
      from: { path: '^src', pathNot: '^src/(index|butler-sos|dead-letters)\\.ts$' },
      to: { path: '^src/lib/audit-module' },
    },
    {
      name: 'no-dev-dependency-at-run-time',
      severity: 'error',
      comment: 'What runs may only import dependencies; types from devDependencies are fine.',
      from: { path: '^src' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
