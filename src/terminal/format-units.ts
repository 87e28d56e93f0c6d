// Binary units because weight files are sized in powers of two and people compare with `ls -lh`.
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 1536 -> "1.5 KiB"; whole bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** 3504872 -> "3,504,872": parameter counts are read digit by digit when comparing models. */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}
