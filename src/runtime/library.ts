/**
 * Finding and initialising ONNX Runtime for the addon's decode runtime: where libonnxruntime is, whether the
 * runtime (and its CUDA provider) can be used here and, when not, why and what to do.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { envValue } from '../config/env';
import { AutocontrastError } from '../errors';
import { hasRuntime, type RuntimeSurface } from '../kernel/addon';
import { loadNative, nativeInfo } from '../kernel/native';

/** Where onnxruntime-node's shared library is (or $AUTOCONTRAST_ORT_LIBRARY). */
export function ortLibraryPath(): string {
  const own = envValue('AUTOCONTRAST_ORT_LIBRARY');
  if (own) return own;
  const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  const file = process.platform === 'darwin' ? 'libonnxruntime.1.dylib' : process.platform === 'win32' ? 'onnxruntime.dll' : 'libonnxruntime.so.1';
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch, file);
}

/** Whether the native runtime can be used here, and if not, why. */
export function runtimeStatus(): { available: boolean; reason?: string } {
  const addon = loadNative();
  if (!addon) {
    return {
      available: false,
      reason: `the native addon did not load (tried: ${nativeInfo().errors.join('; ')}); build it with \`npm run build:native\` (cmake and a C++17 compiler) or install a package with prebuilt binaries`,
    };
  }
  if (!hasRuntime(addon)) {
    return { available: false, reason: addon.rtUnavailableReason ?? 'this addon build has no decode runtime (rebuild it)' };
  }
  const lib = ortLibraryPath();
  if (!existsSync(lib)) {
    return { available: false, reason: `ONNX Runtime library not found at ${lib} (install onnxruntime-node, or set AUTOCONTRAST_ORT_LIBRARY to a libonnxruntime)` };
  }
  return { available: true };
}

let ortInfo: { version: string; apiVersion: number; physicalCores: number } | undefined;

export function addonOrThrow(libraryPath?: string): RuntimeSurface {
  const st = runtimeStatus();
  if (!st.available) throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', `the native runtime is unavailable: ${st.reason}`);
  const addon = loadNative();
  if (!addon || !hasRuntime(addon)) throw new AutocontrastError('AC_RUNTIME_UNAVAILABLE', 'the native runtime is unavailable');
  if (!ortInfo) ortInfo = addon.rtInit(libraryPath ?? ortLibraryPath());
  return addon;
}

/** The folder searched for libautocontrast_cuda.so (the addon's own folder, unless $AUTOCONTRAST_CUDA_LIB is set). */
export function cudaDir(): string {
  const p = nativeInfo().path;
  return p ? dirname(p) : '';
}

/**
 * Whether `loadModel(..., { device: 'cuda' })` can work here, and if not, every reason why: ONNX Runtime's CUDA
 * provider not installed next to onnxruntime-node's libonnxruntime (with the command that installs it), the
 * autocontrast CUDA library not built, no CUDA driver, no device, or no device `deviceId`. Loads ONNX Runtime.
 */
export function cudaRuntimeStatus(options: { deviceId?: number; libraryPath?: string } = {}): { available: boolean; reason?: string } {
  const st = runtimeStatus();
  if (!st.available) return { available: false, reason: `the native runtime is unavailable: ${st.reason}` };
  const addon = addonOrThrow(options.libraryPath);
  if (typeof addon.rtCudaStatus !== 'function') return { available: false, reason: 'this addon build has no CUDA decode loop (rebuild it)' };
  const why = addon.rtCudaStatus(cudaDir(), options.deviceId ?? 0);
  return why ? { available: false, reason: why } : { available: true };
}

/** ONNX Runtime's version and the C API version the addon uses (loads the library on first call). */
export function ortVersion(): { version: string; apiVersion: number; physicalCores: number } {
  addonOrThrow();
  return ortInfo!;
}
