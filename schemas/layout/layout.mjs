// Lays out the shipped process templates for the designer: bpmn-auto-layout draws every flow node and
// sequence flow, and only its diagram (bpmndi:BPMNDiagram) is written back into the template, so the
// process itself — ids, names, extension elements, text — stays exactly as it was.
//
//   cd schemas/layout && npm ci && node layout.mjs          # lays out ../processes/*.bpmn in place
//
// Run it after adding or rewiring elements of a template; commit the result. A template that already
// has a diagram is laid out again from scratch.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { layoutProcess } from 'bpmn-auto-layout';

const dir = new URL('../processes/', import.meta.url).pathname;
const diagram = /\s*<bpmndi:BPMNDiagram[\s\S]*?<\/bpmndi:BPMNDiagram>/g;

for (const name of (await readdir(dir)).filter((f) => f.endsWith('.bpmn')).sort()) {
  const path = join(dir, name);
  const source = (await readFile(path, 'utf8')).replace(diagram, '');
  const laidOut = await layoutProcess(source);
  const diagrams = laidOut.match(diagram);
  if (!diagrams) {
    throw new Error(`${name}: bpmn-auto-layout produced no diagram`);
  }
  const end = source.lastIndexOf('</bpmn:definitions>');
  if (end < 0) {
    throw new Error(`${name}: no closing bpmn:definitions`);
  }
  const out = source.slice(0, end).trimEnd() + diagrams.join('') + '\n' + source.slice(end);
  await writeFile(path, out);
  console.log(`${name}: ${(diagrams.join('').match(/<bpmndi:BPMNShape /g) || []).length} shapes`);
}
