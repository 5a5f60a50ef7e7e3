/** The audit API's routes: registered by the API, named in the messages that point clients to them. */
export const AUDIT_API_ROUTES = {
  event: '/api/v1/audit-event',
  testConnection: '/api/v1/test-connection',
  health: '/api/v1/health',
  metrics: '/metrics',
} as const;
