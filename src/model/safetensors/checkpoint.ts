/**
 * A Hugging Face checkpoint's weights: one `model.safetensors`, or shards listed by
 * `model.safetensors.index.json` (`{"weight_map": {tensor: shard file}}`), exposed as one set
 * of lazily read float32 tensors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsError, SafetensorsFile, type SafetensorsTensorInfo } from './safetensors-file';

/** Weights of a (possibly sharded) safetensors checkpoint. Call {@link close} when done. */
export class SafetensorsCheckpoint {
  private constructor(
    private readonly files: readonly SafetensorsFile[],
    private readonly owner: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  /**
   * Opens the checkpoint in `dir`: `model.safetensors.index.json` when present, else
   * `model.safetensors`, else the only `*.safetensors` file.
   * @throws {SafetensorsError} when none is found, a shard is missing or a file is malformed.
   */
  static open(dir: string): SafetensorsCheckpoint {
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    let shardNames: string[];
    if (fs.existsSync(indexPath)) {
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
      } catch {
        throw new SafetensorsError(`${indexPath}: not valid JSON`);
      }
      if (!index.weight_map || typeof index.weight_map !== 'object') throw new SafetensorsError(`${indexPath}: no weight_map`);
      shardNames = [...new Set(Object.values(index.weight_map))];
    } else if (fs.existsSync(path.join(dir, 'model.safetensors'))) {
      shardNames = ['model.safetensors'];
    } else {
      shardNames = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
      if (shardNames.length !== 1) {
        throw new SafetensorsError(
          shardNames.length === 0
            ? `${dir}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are supported)`
            : `${dir}: several .safetensors files but no model.safetensors.index.json`,
        );
      }
    }
    const files: SafetensorsFile[] = [];
    const owner = new Map<string, SafetensorsFile>();
    try {
      for (const s of shardNames) {
        const p = path.join(dir, s);
        if (!fs.existsSync(p)) throw new SafetensorsError(`${dir}: shard ${s} listed in the index is missing`);
        const f = SafetensorsFile.open(p);
        files.push(f);
        for (const name of f.tensors.keys()) owner.set(name, f);
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    return new SafetensorsCheckpoint(files, owner);
  }

  /** Opens a single safetensors file as a checkpoint. */
  static openFile(file: string): SafetensorsCheckpoint {
    const f = SafetensorsFile.open(file);
    return new SafetensorsCheckpoint([f], new Map([...f.tensors.keys()].map((k) => [k, f])));
  }

  /** All tensor names. */
  names(): string[] {
    return [...this.owner.keys()];
  }

  /** Whether tensor `name` exists. */
  has(name: string): boolean {
    return this.owner.has(name);
  }

  /** The header entry of `name`. */
  info(name: string): SafetensorsTensorInfo {
    const f = this.owner.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor "${name}"`);
    return f.info(name);
  }

  /** Tensor `name` as float32 (read now). */
  readFloat32(name: string): Float32Array {
    const f = this.owner.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor "${name}"`);
    return f.readFloat32(name);
  }

  /** Total bytes of tensor data. */
  get dataBytes(): number {
    let n = 0;
    for (const f of this.files) for (const t of f.tensors.values()) n += t.byteLength;
    return n;
  }

  /** Closes every file. */
  close(): void {
    for (const f of this.files) f.close();
  }
}
