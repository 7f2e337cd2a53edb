/** What tests of process supervision ask the OS: the process table, and whether a pid is alive. */
import { spawnSync } from 'node:child_process';

/** pid → [ppid, args] of every process. */
export function processTable(): Map<number, [number, string]> {
  const ps = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const table = new Map<number, [number, string]>();
  for (const line of ps.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m) table.set(Number(m[1]), [Number(m[2]), m[3]!]);
  }
  return table;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
