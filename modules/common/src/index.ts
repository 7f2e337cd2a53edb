export * from './config';
export * from './logger';
export * from './backoff';
export * from './db';
export * from './http';
export * from './shutdown';
export * from './kafka';
