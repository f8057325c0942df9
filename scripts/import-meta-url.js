// Injected into the CommonJS bundle so dependencies that read import.meta.url keep working.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
