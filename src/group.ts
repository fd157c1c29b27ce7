/** ZarrGroup: a node holding attributes and child arrays and groups. */
import type { GroupMetadata, ZarrFormat } from "./metadata.js";
import type { Store } from "./store.js";
import { joinKey } from "./store.js";
import type { ZarrArray } from "./array.js";
import { UnsupportedOperationError } from "./errors.js";

/** How a group opens its children; supplied by the hierarchy module (avoids an import cycle). */
export interface NodeOpener {
  open(path: string): Promise<ZarrArray | ZarrGroup>;
}

export class ZarrGroup {
  constructor(
    readonly store: Store,
    readonly path: string,
    readonly metadata: GroupMetadata,
    private readonly opener: NodeOpener,
  ) {}

  get zarrFormat(): ZarrFormat {
    return this.metadata.zarrFormat;
  }
  get attrs(): Record<string, unknown> {
    return this.metadata.attributes;
  }

  /** Opens a child array or group by its path relative to this group ("a", "a/b"). */
  open(name: string): Promise<ZarrArray | ZarrGroup> {
    return this.opener.open(joinKey(this.path, name));
  }

  /**
   * The names of the direct children (arrays and groups), sorted. Uses consolidated metadata
   * when the group has it, else lists the store.
   */
  async children(): Promise<string[]> {
    const names = new Set<string>();
    if (this.metadata.consolidated) {
      for (const path of this.metadata.consolidated.keys()) {
        const first = path.split("/")[0];
        if (first) names.add(first);
      }
      return [...names].sort();
    }
    if (!this.store.list) throw new UnsupportedOperationError("the store cannot list keys; open children by name", { path: this.path });
    const prefix = this.path === "" ? "" : `${this.path}/`;
    const metadataNames = new Set(["zarr.json", ".zarray", ".zgroup"]);
    for await (const key of this.store.list(prefix)) {
      const parts = key.slice(prefix.length).split("/");
      // A child is a folder with its own metadata document directly inside it.
      if (parts.length === 2 && metadataNames.has(parts[1])) names.add(parts[0]);
    }
    return [...names].sort();
  }

  toString(): string {
    return `ZarrGroup(path="${this.path}", zarr_format=${this.zarrFormat})`;
  }
}
