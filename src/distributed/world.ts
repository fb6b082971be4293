/**
 * The ranks a run trains on. A plain `bun train.ts` is a world of one and never loads MPI;
 * under `mpiexec` (or with --distributed mpi) MPI is opened and every rank learns its place.
 * `guard` turns any rank's failure into MPI_Abort, so no other rank waits in a collective.
 */
import { Mpi, type MpiRequest } from "../../ffi/mpi.ts";

export type DistributedMode = "auto" | "mpi" | "off";

export interface World {
  readonly rank: number;
  readonly size: number;
  /** Rank within this host: which GPU the rank takes. */
  readonly localRank: number;
  readonly isRoot: boolean;
  /** In-place sum over ranks. */
  allreduceSum(data: Float32Array | Float64Array): void;
  /** Starts an in-place float32 sum; finish it with `wait`. */
  iallreduceSum(data: Float32Array): MpiRequest | null;
  /** Progresses a started sum without blocking. */
  test(req: MpiRequest | null): boolean;
  wait(req: MpiRequest | null): void;
  /** Rank 0's bytes into every rank's array (same length everywhere). */
  bcast(bytes: Uint8Array): void;
  /** Runs `fn`; a failure on this rank prints its message and ends every rank. */
  guard<T>(fn: () => Promise<T>): Promise<T>;
  finalize(): void;
}

/** True when this process was started by mpiexec (MPICH's Hydra or OpenMPI's mpirun). */
export function launchedByMpi(env = process.env): boolean {
  return env.PMI_SIZE !== undefined || env.PMI_RANK !== undefined || env.OMPI_COMM_WORLD_SIZE !== undefined;
}

/** MPICH's launcher on PATH: `mpiexec`, or the names a bare unpacked package has (no Debian alternatives). */
export function mpiexecPath(): string | null {
  return Bun.which("mpiexec") ?? Bun.which("mpiexec.hydra") ?? Bun.which("mpiexec.mpich");
}

/** The rank's index among the ranks on its host, as the launcher reports it. */
export function localRankFromEnv(env = process.env): number {
  const value = env.MPI_LOCALRANKID ?? env.OMPI_COMM_WORLD_LOCAL_RANK ?? "0";
  return Number.parseInt(value, 10) || 0;
}

/** A plain process: every collective is the identity. */
export const SINGLE_PROCESS: World = {
  rank: 0,
  size: 1,
  localRank: 0,
  isRoot: true,
  allreduceSum() {},
  iallreduceSum: () => null,
  test: () => true,
  wait() {},
  bcast() {},
  guard: (fn) => fn(),
  finalize() {},
};

class MpiWorld implements World {
  readonly rank: number;
  readonly size: number;
  readonly localRank = localRankFromEnv();
  readonly isRoot: boolean;

  constructor(private readonly mpi: Mpi) {
    this.rank = mpi.rank;
    this.size = mpi.size;
    this.isRoot = mpi.rank === 0;
  }

  allreduceSum(data: Float32Array | Float64Array): void {
    this.mpi.allreduceSum(data);
  }
  iallreduceSum(data: Float32Array): MpiRequest {
    return this.mpi.iallreduceSum(data);
  }
  test(req: MpiRequest | null): boolean {
    return req === null || this.mpi.test(req);
  }
  wait(req: MpiRequest | null): void {
    if (req) this.mpi.wait(req);
  }
  bcast(bytes: Uint8Array): void {
    if (bytes.length) this.mpi.bcast(bytes);
  }

  async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      console.error(`rank ${this.rank}/${this.size}: ${e instanceof Error ? e.message : String(e)}`);
      if (process.env.IFLAME_DEBUG && e instanceof Error) console.error(e.stack);
      return this.mpi.abort(1);
    }
  }

  finalize(): void {
    this.mpi.finalize();
  }
}

/**
 * The world for --distributed `mode`: "auto" opens MPI only under mpiexec, "mpi" always,
 * "off" never.
 */
export function openWorld(mode: DistributedMode): World {
  if (mode === "off" || (mode === "auto" && !launchedByMpi())) return SINGLE_PROCESS;
  return new MpiWorld(Mpi.open());
}
