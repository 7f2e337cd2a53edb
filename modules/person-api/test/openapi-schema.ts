/**
 * The little of JSON Schema that /openapi.json uses (OpenAPI 3.0: $ref, anyOf, type, nullable,
 * enum, pattern in Unicode mode, code-point lengths, minimum/maximum, exclusive bounds as
 * booleans, properties, required, additionalProperties, items, minItems/maxItems), to decide whether the document
 * accepts a value. A keyword it does not know fails loudly, so the oracle never guesses.
 */
export type Schema = Record<string, unknown>;
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}
export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
}
export interface Operation {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  description?: string;
}

const KNOWN = new Set([
  '$ref',
  'anyOf',
  'type',
  'nullable',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'format',
  'description',
  'example',
  'default',
]);
const FORMATS_WITH_PATTERN = new Set(['uuid', 'date-time']);
const patterns = new Map<string, RegExp>();
const regex = (source: string) => patterns.get(source) ?? patterns.set(source, new RegExp(source, 'u')).get(source)!;

export function resolve(doc: OpenApiDocument, schema: Schema): Schema {
  const ref = schema.$ref as string | undefined;
  return ref ? doc.components.schemas[ref.replace('#/components/schemas/', '')]! : schema;
}

/** Whether `value` is valid under `schema`. */
export function accepts(doc: OpenApiDocument, schemaOrRef: Schema, value: unknown): boolean {
  const s = resolve(doc, schemaOrRef);
  for (const key of Object.keys(s)) if (!KNOWN.has(key)) throw new Error(`the oracle does not know the keyword ${key}`);
  if (value === null) return s.nullable === true;
  if (s.anyOf) return (s.anyOf as Schema[]).some((branch) => accepts(doc, branch, value));
  if (s.enum && !(s.enum as unknown[]).includes(value)) return false;
  switch (s.type) {
    case undefined:
      if (!s.enum) throw new Error(`a schema without a type: ${JSON.stringify(s)}`);
      return true;
    case 'string': {
      if (typeof value !== 'string') return false;
      if (typeof s.format === 'string' && !FORMATS_WITH_PATTERN.has(s.format)) throw new Error(`format ${s.format} without the oracle knowing it`);
      // Answers may carry a format without a pattern (requests always have one: openapi-fuzz checks both ways).
      if (s.format === 'uuid' && !s.pattern && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return false;
      if (s.format === 'date-time' && !s.pattern && Number.isNaN(Date.parse(value))) return false;
      const length = [...value].length;
      if (typeof s.minLength === 'number' && length < s.minLength) return false;
      if (typeof s.maxLength === 'number' && length > s.maxLength) return false;
      return typeof s.pattern !== 'string' || regex(s.pattern).test(value);
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (s.type === 'integer' && !Number.isSafeInteger(value)) return false;
      if (typeof s.minimum === 'number' && (s.exclusiveMinimum === true ? value <= s.minimum : value < s.minimum)) return false;
      if (typeof s.maximum === 'number' && (s.exclusiveMaximum === true ? value >= s.maximum : value > s.maximum)) return false;
      return true;
    }
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      if (!Array.isArray(value)) return false;
      if ((typeof s.minItems === 'number' && value.length < s.minItems) || (typeof s.maxItems === 'number' && value.length > s.maxItems)) return false;
      return !s.items || value.every((item) => accepts(doc, s.items as Schema, item));
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return false;
      const record = value as Record<string, unknown>;
      const properties = (s.properties ?? {}) as Record<string, Schema>;
      if (((s.required ?? []) as string[]).some((k) => !(k in record))) return false;
      for (const [k, v] of Object.entries(record)) {
        if (properties[k]) {
          if (!accepts(doc, properties[k], v)) return false;
        } else if (s.additionalProperties === false) return false;
        else if (typeof s.additionalProperties === 'object' && !accepts(doc, s.additionalProperties as Schema, v)) return false;
      }
      return true;
    }
    default:
      throw new Error(`the oracle does not know type ${String(s.type)}`);
  }
}
