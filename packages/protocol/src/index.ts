export * from './errors.js';
export * from './limits.js';
export * from './models.js';
export * from './rest.js';
export * from './ws.js';
export * from './calls.js';
export * from './groups.js';
export * from './files.js';
