/**
 * A minimal MPI binding over bun:ffi for data-parallel training: init, rank/size, all-reduce
 * (blocking and non-blocking) of float32/float64 sums, broadcast of bytes, abort, finalize.
 *
 * MPICH (libmpich.so.12, Debian `mpich`) names its handles by fixed integers (mpi.h of the
 * MPICH ABI): communicators, datatypes, ops and requests are 32-bit ints, MPI_IN_PLACE is
 * (void*)-1 and MPI_STATUS_IGNORE is (MPI_Status*)1. OpenMPI exports its handles as global
 * objects instead (&ompi_mpi_comm_world, …); it is not bound here (see docs/DISTRIBUTED.md).
 */
import { dlopen, FFIType as T, ptr } from "bun:ffi";

const MPI_COMM_WORLD = 0x44000000;
const MPI_BYTE = 0x4c00010d;
const MPI_FLOAT = 0x4c00040a;
const MPI_DOUBLE = 0x4c00080b;
const MPI_SUM = 0x58000003;
const MPI_IN_PLACE = -1n;
const MPI_STATUS_IGNORE = 1n;
/** MPI counts are C ints: larger transfers go in pieces of this many elements. */
const MAX_COUNT = 1 << 30;

const symbols = {
  MPI_Initialized: { args: [T.ptr], returns: T.i32 },
  MPI_Init: { args: [T.ptr, T.ptr], returns: T.i32 },
  MPI_Comm_rank: { args: [T.i32, T.ptr], returns: T.i32 },
  MPI_Comm_size: { args: [T.i32, T.ptr], returns: T.i32 },
  MPI_Allreduce: { args: [T.u64, T.ptr, T.i32, T.i32, T.i32, T.i32], returns: T.i32 },
  MPI_Iallreduce: { args: [T.u64, T.ptr, T.i32, T.i32, T.i32, T.i32, T.ptr], returns: T.i32 },
  MPI_Test: { args: [T.ptr, T.ptr, T.u64], returns: T.i32 },
  MPI_Wait: { args: [T.ptr, T.u64], returns: T.i32 },
  MPI_Bcast: { args: [T.ptr, T.i32, T.i32, T.i32, T.i32], returns: T.i32 },
  MPI_Abort: { args: [T.i32, T.i32], returns: T.i32 },
  MPI_Finalize: { args: [], returns: T.i32 },
} as const;

export const MPICH_LIBRARY = "libmpich.so.12";

/** A reduction in flight: its request handle lives in `slot` until wait() or test() completes it. */
export interface MpiRequest {
  readonly slot: Int32Array;
  done: boolean;
}

type FloatArray = Float32Array | Float64Array;

export class Mpi {
  readonly rank: number;
  readonly size: number;
  private finalized = false;

  private constructor(
    private readonly lib: ReturnType<typeof dlopen<typeof symbols>>["symbols"],
    readonly path: string,
  ) {
    const flag = new Int32Array(1);
    this.check(lib.MPI_Initialized(ptr(flag)), "MPI_Initialized");
    if (!flag[0]) this.check(lib.MPI_Init(null, null), "MPI_Init");
    const out = new Int32Array(1);
    this.check(lib.MPI_Comm_rank(MPI_COMM_WORLD, ptr(out)), "MPI_Comm_rank");
    this.rank = out[0];
    this.check(lib.MPI_Comm_size(MPI_COMM_WORLD, ptr(out)), "MPI_Comm_size");
    this.size = out[0];
  }

  /** Opens the MPICH library ($IFLAME_MPI_LIB, else libmpich.so.12) and initialises MPI. */
  static open(path = process.env.IFLAME_MPI_LIB || MPICH_LIBRARY): Mpi {
    let lib;
    try {
      lib = dlopen(path, symbols);
    } catch (e) {
      throw new Error(
        `cannot load MPI (${path}: ${(e as Error).message.split("\n")[0]}); install the Debian package mpich, or set IFLAME_MPI_LIB to an MPICH-ABI libmpi`,
      );
    }
    return new Mpi(lib.symbols, path);
  }

  private check(code: number, call: string): void {
    if (code !== 0) throw new Error(`${call} failed with MPI error ${code}`);
  }

  private datatype(data: FloatArray): number {
    return data instanceof Float64Array ? MPI_DOUBLE : MPI_FLOAT;
  }

  /** Sums `data` over all ranks, in place; every rank gets the sum. */
  allreduceSum(data: FloatArray): void {
    for (let at = 0; at < data.length; at += MAX_COUNT) {
      const part = data.subarray(at, Math.min(data.length, at + MAX_COUNT));
      if (part.length) this.check(this.lib.MPI_Allreduce(MPI_IN_PLACE, ptr(part), part.length, this.datatype(data), MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
    }
  }

  /** Starts an in-place sum over all ranks; `data` must stay untouched until wait(). */
  iallreduceSum(data: FloatArray): MpiRequest {
    if (data.length > MAX_COUNT) throw new Error(`iallreduceSum: ${data.length} elements exceed one MPI count; use smaller buckets`);
    const slot = new Int32Array(2);
    this.check(this.lib.MPI_Iallreduce(MPI_IN_PLACE, ptr(data), data.length, this.datatype(data), MPI_SUM, MPI_COMM_WORLD, ptr(slot)), "MPI_Iallreduce");
    return { slot, done: false };
  }

  /** Drives MPI's progress engine; true once the request has completed. */
  test(req: MpiRequest): boolean {
    if (req.done) return true;
    const flag = new Int32Array(1);
    this.check(this.lib.MPI_Test(ptr(req.slot), ptr(flag), MPI_STATUS_IGNORE), "MPI_Test");
    req.done = flag[0] !== 0;
    return req.done;
  }

  wait(req: MpiRequest): void {
    if (req.done) return;
    this.check(this.lib.MPI_Wait(ptr(req.slot), MPI_STATUS_IGNORE), "MPI_Wait");
    req.done = true;
  }

  /** Broadcasts `bytes` from `root` into every rank's `bytes` (the same length everywhere). */
  bcast(bytes: Uint8Array, root = 0): void {
    for (let at = 0; at < bytes.length; at += MAX_COUNT) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + MAX_COUNT));
      this.check(this.lib.MPI_Bcast(ptr(part), part.length, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }

  /** Ends every rank of the job (mpiexec kills them); does not return. */
  abort(code: number): never {
    this.lib.MPI_Abort(MPI_COMM_WORLD, code);
    process.exit(code);
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.check(this.lib.MPI_Finalize(), "MPI_Finalize");
  }
}
