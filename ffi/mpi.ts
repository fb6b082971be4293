/**
 * A minimal MPI binding over bun:ffi for data-parallel training: init, rank/size, all-reduce
 * (blocking and non-blocking) of float32/float64 sums, broadcast of bytes, abort, finalize.
 *
 * Two ABIs. MPICH (libmpich.so.12, Debian `mpich`) names its handles by fixed integers (mpi.h
 * of the MPICH ABI): communicators, datatypes, ops and requests are 32-bit ints, MPI_IN_PLACE
 * is (void*)-1 and MPI_STATUS_IGNORE is (MPI_Status*)1. OpenMPI (libmpi.so.40) exports its
 * handles as global objects (MPI_COMM_WORLD is &ompi_mpi_comm_world, …), requests are
 * pointers, MPI_IN_PLACE is (void*)1 and MPI_STATUS_IGNORE NULL. Handles are passed as 64-bit
 * words (an int handle in the low half of its register is what the callee reads) and request
 * slots are 8 bytes, so one symbol table serves both.
 */
import { dlopen, FFIType as T, ptr, type Pointer } from "bun:ffi";

interface Abi {
  name: "MPICH" | "OpenMPI";
  comm: bigint;
  byte: bigint;
  float: bigint;
  double: bigint;
  sum: bigint;
  inPlace: bigint;
  statusIgnore: bigint;
}

const MPICH: Abi = {
  name: "MPICH", comm: 0x44000000n, byte: 0x4c00010dn, float: 0x4c00040an, double: 0x4c00080bn, sum: 0x58000003n, inPlace: -1n, statusIgnore: 1n,
};
const OPENMPI_HANDLES = ["ompi_mpi_comm_world", "ompi_mpi_byte", "ompi_mpi_float", "ompi_mpi_double", "ompi_mpi_op_sum"] as const;
/** MPI counts are C ints: larger transfers go in pieces of this many elements. */
const MAX_COUNT = 1 << 30;

const symbols = {
  MPI_Initialized: { args: [T.ptr], returns: T.i32 },
  MPI_Init: { args: [T.ptr, T.ptr], returns: T.i32 },
  MPI_Comm_rank: { args: [T.u64, T.ptr], returns: T.i32 },
  MPI_Comm_size: { args: [T.u64, T.ptr], returns: T.i32 },
  MPI_Allreduce: { args: [T.u64, T.ptr, T.i32, T.u64, T.u64, T.u64], returns: T.i32 },
  MPI_Iallreduce: { args: [T.u64, T.ptr, T.i32, T.u64, T.u64, T.u64, T.ptr], returns: T.i32 },
  MPI_Test: { args: [T.ptr, T.ptr, T.u64], returns: T.i32 },
  MPI_Wait: { args: [T.ptr, T.u64], returns: T.i32 },
  MPI_Bcast: { args: [T.ptr, T.i32, T.u64, T.i32, T.u64], returns: T.i32 },
  MPI_Abort: { args: [T.u64, T.i32], returns: T.i32 },
  MPI_Finalize: { args: [], returns: T.i32 },
} as const;

export const MPICH_LIBRARY = "libmpich.so.12";
export const OPENMPI_LIBRARY = "libmpi.so.40";

/** A reduction in flight: its request handle lives in `slot` until wait() or test() completes it. */
export interface MpiRequest {
  readonly slot: BigUint64Array;
  done: boolean;
}

/** The OpenMPI handles' addresses, or null when `path` is not OpenMPI. */
function openMpiAbi(path: string): Abi | null {
  let lib;
  try {
    lib = dlopen(path, Object.fromEntries(OPENMPI_HANDLES.map((n) => [n, { args: [], returns: T.void }])));
  } catch {
    return null;
  }
  const at = (n: (typeof OPENMPI_HANDLES)[number]) => BigInt((lib.symbols[n] as unknown as { ptr: Pointer }).ptr);
  return {
    name: "OpenMPI", comm: at("ompi_mpi_comm_world"), byte: at("ompi_mpi_byte"), float: at("ompi_mpi_float"), double: at("ompi_mpi_double"),
    sum: at("ompi_mpi_op_sum"), inPlace: 1n, statusIgnore: 0n,
  };
}

/**
 * OpenMPI loads its components with dlopen, and they resolve symbols of libmpi: it must be opened
 * RTLD_GLOBAL first (bun:ffi's dlopen is RTLD_LOCAL).
 */
function openGlobal(path: string): void {
  const libc = dlopen(process.platform === "darwin" ? "libc.dylib" : "libc.so.6", { dlopen: { args: [T.cstring, T.i32], returns: T.ptr } });
  const RTLD_NOW_GLOBAL = process.platform === "darwin" ? 0x2 | 0x8 : 0x2 | 0x100;
  libc.symbols.dlopen(ptr(Buffer.from(`${path}\0`)), RTLD_NOW_GLOBAL);
}

type FloatArray = Float32Array | Float64Array;

export class Mpi {
  readonly rank: number;
  readonly size: number;
  private finalized = false;

  private constructor(
    private readonly lib: ReturnType<typeof dlopen<typeof symbols>>["symbols"],
    readonly path: string,
    readonly abi: Abi,
  ) {
    const flag = new Int32Array(1);
    this.check(lib.MPI_Initialized(ptr(flag)), "MPI_Initialized");
    if (!flag[0]) this.check(lib.MPI_Init(null, null), "MPI_Init");
    const out = new Int32Array(1);
    this.check(lib.MPI_Comm_rank(abi.comm, ptr(out)), "MPI_Comm_rank");
    this.rank = out[0];
    this.check(lib.MPI_Comm_size(abi.comm, ptr(out)), "MPI_Comm_size");
    this.size = out[0];
  }

  /**
   * Opens MPI and initialises it: $IFLAME_MPI_LIB, else MPICH's libmpich.so.12 under Hydra and
   * OpenMPI's libmpi.so.40 under mpirun (OMPI_COMM_WORLD_SIZE set).
   */
  static open(path = process.env.IFLAME_MPI_LIB || (process.env.OMPI_COMM_WORLD_SIZE ? OPENMPI_LIBRARY : MPICH_LIBRARY)): Mpi {
    let lib;
    try {
      lib = dlopen(path, symbols);
    } catch (e) {
      throw new Error(
        `cannot load MPI (${path}: ${(e as Error).message.split("\n")[0]}); install the Debian package mpich (or openmpi-bin), or set IFLAME_MPI_LIB to an MPICH or OpenMPI libmpi`,
      );
    }
    const openMpi = openMpiAbi(path);
    if (openMpi) openGlobal(path);
    return new Mpi(lib.symbols, path, openMpi ?? MPICH);
  }

  private check(code: number, call: string): void {
    if (code !== 0) throw new Error(`${call} failed with MPI error ${code}`);
  }

  private datatype(data: FloatArray): bigint {
    return data instanceof Float64Array ? this.abi.double : this.abi.float;
  }

  /** Sums `data` over all ranks, in place; every rank gets the sum. */
  allreduceSum(data: FloatArray): void {
    for (let at = 0; at < data.length; at += MAX_COUNT) {
      const part = data.subarray(at, Math.min(data.length, at + MAX_COUNT));
      if (part.length) this.check(this.lib.MPI_Allreduce(this.abi.inPlace, ptr(part), part.length, this.datatype(data), this.abi.sum, this.abi.comm), "MPI_Allreduce");
    }
  }

  /** Starts an in-place sum over all ranks; `data` must stay untouched until wait(). */
  iallreduceSum(data: FloatArray): MpiRequest {
    if (data.length > MAX_COUNT) throw new Error(`iallreduceSum: ${data.length} elements exceed one MPI count; use smaller buckets`);
    const slot = new BigUint64Array(1);
    this.check(this.lib.MPI_Iallreduce(this.abi.inPlace, ptr(data), data.length, this.datatype(data), this.abi.sum, this.abi.comm, ptr(slot)), "MPI_Iallreduce");
    return { slot, done: false };
  }

  /** Drives MPI's progress engine; true once the request has completed. */
  test(req: MpiRequest): boolean {
    if (req.done) return true;
    const flag = new Int32Array(1);
    this.check(this.lib.MPI_Test(ptr(req.slot), ptr(flag), this.abi.statusIgnore), "MPI_Test");
    req.done = flag[0] !== 0;
    return req.done;
  }

  wait(req: MpiRequest): void {
    if (req.done) return;
    this.check(this.lib.MPI_Wait(ptr(req.slot), this.abi.statusIgnore), "MPI_Wait");
    req.done = true;
  }

  /** Broadcasts `bytes` from `root` into every rank's `bytes` (the same length everywhere). */
  bcast(bytes: Uint8Array, root = 0): void {
    for (let at = 0; at < bytes.length; at += MAX_COUNT) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + MAX_COUNT));
      this.check(this.lib.MPI_Bcast(ptr(part), part.length, this.abi.byte, root, this.abi.comm), "MPI_Bcast");
    }
  }

  /** Ends every rank of the job (mpiexec kills them); does not return. */
  abort(code: number): never {
    this.lib.MPI_Abort(this.abi.comm, code);
    process.exit(code);
  }

  finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.check(this.lib.MPI_Finalize(), "MPI_Finalize");
  }
}
