// Validates an AsyncAPI document: the AsyncAPI parser's own rules (errors fail), then every
// message example against the message's payload schema (JSON Schema, refs resolved within
// the document).
//
//   node scripts/asyncapi/check.mjs openapi/signal-service.asyncapi.json
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';

const path = process.argv[2];
const text = readFileSync(path, 'utf8');
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.error(`error ${d.code} at ${d.path.join('.')}: ${d.message}`);
if (!document || errors.length) {
  console.error(`${path}: ${errors.length} AsyncAPI errors`);
  process.exit(1);
}

const raw = JSON.parse(text);
// OpenAPI-style keywords (`example`, `format: int64`, a discriminator given by name) are
// annotations here.
const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(raw, 'doc');
let examples = 0;
let failed = 0;
for (const [name, message] of Object.entries(raw.components.messages)) {
  const ref = message.payload.$ref;
  const validate = ajv.getSchema(`doc${ref}`);
  for (const ex of message.examples ?? []) {
    examples += 1;
    if (!validate(ex.payload)) {
      failed += 1;
      console.error(`message ${name}, example ${ex.name}: ${ajv.errorsText(validate.errors)}`);
    }
  }
}
if (failed) process.exit(1);
console.log(`${path}: valid AsyncAPI ${document.version()}; ${document.messages().length} messages, ${examples} examples valid against their payloads`);
