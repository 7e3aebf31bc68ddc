import type { TableRef } from "@pgcachewatch/core";
import type { RuntimeDataModel } from "./prisma-internals.js";

/** A relation field as the table walk needs it: the model it leads to and the tables it may read. */
export interface RelationEdge {
  readonly target: string;
  /** The target model's table plus the implicit many-to-many join table candidates (`_RelationName`). */
  readonly tables: readonly TableRef[];
}

export interface ModelNode {
  readonly name: string;
  readonly table: TableRef;
  readonly relations: ReadonlyMap<string, RelationEdge>;
}

/** Each model's table and relations, resolved once from Prisma's runtime data model. */
export class ModelGraph {
  readonly #models: ReadonlyMap<string, ModelNode>;

  constructor(dataModel: RuntimeDataModel, defaultSchema: string) {
    const tables = new Map<string, TableRef>();
    for (const [name, model] of Object.entries(dataModel.models)) {
      tables.set(name, { schema: model.schema ?? defaultSchema, table: model.dbName ?? name });
    }
    const models = new Map<string, ModelNode>();
    for (const [name, model] of Object.entries(dataModel.models)) {
      const table = tables.get(name)!;
      const relations = new Map<string, RelationEdge>();
      for (const field of model.fields) {
        if (field.kind !== "object") continue;
        const targetTable = tables.get(field.type);
        // A relation to something that is not a model (a composite type) reads no other table.
        if (!targetTable) continue;
        const edgeTables: TableRef[] = [targetTable];
        if (field.relationName) {
          // The runtime data model does not say which relations are implicit many-to-many, so every
          // relation carries its would-be join table. Prisma names it `_<relationName>`; it lives in
          // one of the two models' schemas. A tag for a table that does not exist never fires.
          const join = `_${field.relationName}`;
          for (const schema of new Set([table.schema, targetTable.schema]))
            edgeTables.push({ schema, table: join });
        }
        relations.set(field.name, { target: field.type, tables: edgeTables });
      }
      models.set(name, { name, table, relations });
    }
    this.#models = models;
  }

  model(name: string): ModelNode | undefined {
    return this.#models.get(name);
  }
}
