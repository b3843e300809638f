/** What `dubbo-mesh generate` writes for a model, read back: every YAML document of its files, in file order. */
import { parseAllDocuments } from "yaml";
import { generateIstio, type IstioOptions } from "../../control/generate/istio/index.js";
import type { MeshModel } from "../../control/model/model.js";

export function generatedObjects(model: MeshModel, options: IstioOptions): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const file of generateIstio(model, options)) {
    if (!file.name.endsWith(".yaml")) continue;
    for (const doc of parseAllDocuments(file.chunks.join(""))) {
      const value = doc.toJS() as Record<string, unknown> | null;
      if (value !== null) out.push(value);
    }
  }
  return out;
}
