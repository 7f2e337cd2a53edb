/** node-postgres's own timestamp parser (a dependency of pg-types; it ships no types). */
declare module 'postgres-date' {
  function parseDate(text: string): Date | number | null;
  export = parseDate;
}
