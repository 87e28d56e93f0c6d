import { randomBytes } from 'node:crypto';
import { promises as fs, type promises as fsPromises } from 'node:fs';
import path from 'node:path';

/**
 * Cuts one manifest group's byte stream into shard files of `shardBytes` each (the last one shorter), the
 * way tfjs-converter does, while the bytes arrive; only one open file and no more than the bytes given to
 * write() are held at a time. A shard's final name says how many shards the group has
 * (`group1-shard2of3.bin`), which is known only at the end, so shards go to temporary files that the
 * caller renames once finish() has told it the count.
 */
export class GroupShardWriter {
  private readonly temporaries: string[] = [];
  private handle: fsPromises.FileHandle | undefined;
  private bytesInShard = 0;

  constructor(
    private readonly folder: string,
    private readonly shardBytes: number,
    /** Distinguishes this writer's temporaries from other groups' and other processes'. */
    private readonly label: string,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.handle === undefined || this.bytesInShard === this.shardBytes) await this.startShard();
      const length = Math.min(bytes.length - offset, this.shardBytes - this.bytesInShard);
      let written = 0;
      while (written < length) {
        const { bytesWritten } = await this.handle!.write(bytes, offset + written, length - written);
        written += bytesWritten;
      }
      offset += length;
      this.bytesInShard += length;
    }
  }

  /** Close the last shard; the temporaries in shard order. */
  async finish(): Promise<string[]> {
    await this.closeShard();
    return [...this.temporaries];
  }

  /** Remove whatever temporaries are left (after a failure, or those not renamed). */
  async discard(): Promise<void> {
    await this.closeShard();
    await Promise.all(this.temporaries.map((temporary) => fs.rm(temporary, { force: true })));
  }

  private async startShard(): Promise<void> {
    await this.closeShard();
    const temporary = path.join(
      this.folder,
      `.${this.label}-shard${this.temporaries.length + 1}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
    );
    this.temporaries.push(temporary);
    this.handle = await fs.open(temporary, 'wx');
    this.bytesInShard = 0;
  }

  private async closeShard(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}
