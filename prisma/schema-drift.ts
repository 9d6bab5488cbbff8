import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from 'mariadb';
import { get_dmmf } from '@prisma/prisma-schema-wasm';

/**
 * Compares prisma/schema.prisma with a migrated database: tables, columns (type and nullability),
 * primary keys, indexes and foreign keys, both ways. Prisma's own `migrate diff` needs the native
 * schema engine, which is not available everywhere; this reads the schema through Prisma's WASM
 * parser and the database through information_schema.
 */

export const SCHEMA_FILE = path.join(__dirname, 'schema.prisma');

interface Column {
  type: string;
  nullable: boolean;
}
interface Index {
  columns: string[];
  unique: boolean;
}
interface ForeignKey {
  columns: string[];
  refTable: string;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
}
interface Table {
  columns: Map<string, Column>;
  primaryKey: string[];
  indexes: Map<string, Index>;
  foreignKeys: Map<string, ForeignKey>;
}
export type SchemaShape = Map<string, Table>;

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string | null;
  name?: string | null;
  fields: Array<{ name: string }>;
}
interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: Array<{ name: string; values: Array<{ name: string; dbName: string | null }> }>;
    indexes: DmmfIndex[];
  };
}

const REFERENTIAL: Record<string, string> = {
  Cascade: 'CASCADE',
  SetNull: 'SET NULL',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
  SetDefault: 'SET DEFAULT',
};

/** The MySQL column type Prisma's MySQL connector creates for a scalar field (as MariaDB reports it). */
function columnType(field: DmmfField, enums: Dmmf['datamodel']['enums']): string {
  if (field.kind === 'enum') {
    const values = enums.find((e) => e.name === field.type)?.values ?? [];
    return `enum(${values.map((v) => `'${v.dbName ?? v.name}'`).join(',')})`;
  }
  const [native, args = []] = field.nativeType ?? [undefined, []];
  if (native) {
    const simple: Record<string, string> = {
      Text: 'text',
      MediumText: 'mediumtext',
      LongText: 'longtext',
      TinyText: 'tinytext',
    };
    if (simple[native]) return simple[native];
    return `${native.toLowerCase()}${args.length ? `(${args.join(',')})` : ''}`;
  }
  const defaults: Record<string, string> = {
    String: 'varchar(191)',
    Int: 'int',
    BigInt: 'bigint',
    Boolean: 'tinyint(1)',
    DateTime: 'datetime(3)',
    Float: 'double',
    Decimal: 'decimal(65,30)',
    // MariaDB implements JSON as LONGTEXT with a json_valid check.
    Json: 'longtext',
    Bytes: 'longblob',
  };
  const type = defaults[field.type];
  if (!type)
    throw new Error(
      `schema drift check does not know how Prisma maps ${field.type}; extend schema-drift.ts`,
    );
  return type;
}

/** The shape prisma/schema.prisma describes. */
export function expectedShape(schemaText = readFileSync(SCHEMA_FILE, 'utf8')): SchemaShape {
  const dmmf = JSON.parse(
    get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schemaText]] })),
  ) as Dmmf;
  const { models, enums, indexes } = dmmf.datamodel;
  const tableOf = (model: string) => {
    const m = models.find((x) => x.name === model);
    if (!m) throw new Error(`unknown model ${model}`);
    return m.dbName ?? m.name;
  };
  const columnOf = (model: string, field: string) => {
    const f = models.find((x) => x.name === model)?.fields.find((x) => x.name === field);
    return f?.dbName ?? field;
  };
  const shape: SchemaShape = new Map();
  for (const model of models) {
    const table = tableOf(model.name);
    const t: Table = {
      columns: new Map(),
      primaryKey: [],
      indexes: new Map(),
      foreignKeys: new Map(),
    };
    for (const field of model.fields) {
      if (field.kind === 'scalar' || field.kind === 'enum') {
        t.columns.set(field.dbName ?? field.name, {
          type: columnType(field, enums),
          nullable: !field.isRequired,
        });
      }
      if (field.kind === 'object' && field.relationFromFields?.length) {
        const columns = field.relationFromFields.map((f) => columnOf(model.name, f));
        const optional = !field.isRequired;
        t.foreignKeys.set(`${table}_${columns.join('_')}_fkey`, {
          columns,
          refTable: tableOf(field.type),
          refColumns: (field.relationToFields ?? []).map((f) => columnOf(field.type, f)),
          onDelete:
            REFERENTIAL[field.relationOnDelete ?? (optional ? 'SetNull' : 'Restrict')] ?? '?',
          onUpdate: REFERENTIAL[field.relationOnUpdate ?? 'Cascade'] ?? '?',
        });
      }
    }
    shape.set(table, t);
  }
  for (const index of indexes) {
    const table = tableOf(index.model);
    const t = shape.get(table)!;
    const columns = index.fields.map((f) => columnOf(index.model, f.name));
    if (index.type === 'id') {
      t.primaryKey = columns;
      continue;
    }
    const suffix = index.type === 'unique' ? 'key' : 'idx';
    const name = index.dbName ?? `${table}_${columns.join('_')}_${suffix}`;
    t.indexes.set(name, { columns, unique: index.type === 'unique' });
  }
  return shape;
}

/** The shape of the database `conn` is using (Prisma's bookkeeping table left out). */
export async function actualShape(conn: Connection): Promise<SchemaShape> {
  const shape: SchemaShape = new Map();
  const table = (name: string) => {
    let t = shape.get(name);
    if (!t) {
      t = { columns: new Map(), primaryKey: [], indexes: new Map(), foreignKeys: new Map() };
      shape.set(name, t);
    }
    return t;
  };
  const columns = await conn.query<Array<{ t: string; c: string; type: string; nullable: string }>>(
    `SELECT TABLE_NAME t, COLUMN_NAME c, COLUMN_TYPE type, IS_NULLABLE nullable FROM information_schema.COLUMNS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '_prisma_migrations' ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  );
  for (const col of columns) {
    // Display widths (int(11)) are cosmetic and Prisma does not declare them; tinyint(1) is Boolean.
    const type = col.type
      .replace(/^(int|bigint|smallint|mediumint)\(\d+\)/, '$1')
      .replace(/\s+unsigned$/, ' unsigned');
    table(col.t).columns.set(col.c, { type, nullable: col.nullable === 'YES' });
  }
  const stats = await conn.query<
    Array<{ t: string; name: string; c: string; nonUnique: number | bigint }>
  >(
    `SELECT TABLE_NAME t, INDEX_NAME name, COLUMN_NAME c, NON_UNIQUE nonUnique FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '_prisma_migrations' ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  );
  for (const s of stats) {
    const t = table(s.t);
    if (s.name === 'PRIMARY') {
      t.primaryKey.push(s.c);
      continue;
    }
    const index = t.indexes.get(s.name) ?? { columns: [], unique: Number(s.nonUnique) === 0 };
    index.columns.push(s.c);
    t.indexes.set(s.name, index);
  }
  const fks = await conn.query<
    Array<{ t: string; name: string; c: string; rt: string; rc: string; del: string; upd: string }>
  >(
    `SELECT k.TABLE_NAME t, k.CONSTRAINT_NAME name, k.COLUMN_NAME c, k.REFERENCED_TABLE_NAME rt,
            k.REFERENCED_COLUMN_NAME rc, r.DELETE_RULE del, r.UPDATE_RULE upd
     FROM information_schema.KEY_COLUMN_USAGE k
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
     WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
     ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
  );
  for (const fk of fks) {
    const t = table(fk.t);
    const entry = t.foreignKeys.get(fk.name) ?? {
      columns: [],
      refTable: fk.rt,
      refColumns: [],
      onDelete: fk.del,
      onUpdate: fk.upd,
    };
    entry.columns.push(fk.c);
    entry.refColumns.push(fk.rc);
    t.foreignKeys.set(fk.name, entry);
  }
  return shape;
}

/** Every difference between the two shapes, as sentences; empty when they agree. */
export function diffShapes(expected: SchemaShape, actual: SchemaShape): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const name of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(name);
    const a = actual.get(name);
    if (!a) {
      out.push(`table ${name} is in the schema but not in the database`);
      continue;
    }
    if (!e) {
      out.push(`table ${name} is in the database but not in the schema`);
      continue;
    }
    for (const col of new Set([...e.columns.keys(), ...a.columns.keys()])) {
      const ec = e.columns.get(col);
      const ac = a.columns.get(col);
      if (!ac) out.push(`column ${name}.${col} is in the schema but not in the database`);
      else if (!ec) out.push(`column ${name}.${col} is in the database but not in the schema`);
      else if (!same(ec, ac)) {
        out.push(
          `column ${name}.${col}: schema says ${describe(ec)}, database has ${describe(ac)}`,
        );
      }
    }
    if (!same(e.primaryKey, a.primaryKey)) {
      out.push(
        `primary key of ${name}: schema (${e.primaryKey.join(', ')}), database (${a.primaryKey.join(', ')})`,
      );
    }
    diffNamed(`index on ${name}`, e.indexes, a.indexes, out);
    diffNamed(`foreign key on ${name}`, e.foreignKeys, a.foreignKeys, out);
  }
  return out;
}

function describe(c: Column): string {
  return `${c.type} ${c.nullable ? 'NULL' : 'NOT NULL'}`;
}

function diffNamed<T>(what: string, e: Map<string, T>, a: Map<string, T>, out: string[]): void {
  for (const key of new Set([...e.keys(), ...a.keys()])) {
    const ev = e.get(key);
    const av = a.get(key);
    if (!av) out.push(`${what} ${key} is in the schema but not in the database`);
    else if (!ev) out.push(`${what} ${key} is in the database but not in the schema`);
    else if (JSON.stringify(ev) !== JSON.stringify(av)) {
      out.push(`${what} ${key}: schema ${JSON.stringify(ev)}, database ${JSON.stringify(av)}`);
    }
  }
}
