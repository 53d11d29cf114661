import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

/** Device names the platform knows, and the onnxruntime execution provider behind each. */
export type DeviceName = 'cpu' | 'cuda' | 'webgpu';
const EXECUTION_PROVIDER: Record<DeviceName, string> = { cpu: 'cpu', cuda: 'cuda', webgpu: 'webgpu' };
export const KNOWN_DEVICES: readonly DeviceName[] = ['cpu', 'cuda', 'webgpu'];

let probed: DeviceName[] | undefined;

/**
 * Devices the installed onnxruntime-node can offer: its bundled backends, plus providers whose
 * shared library was installed next to the binding (CUDA is downloaded by an install script that
 * is off by default). A listed device may still fail to start (e.g. WebGPU without a usable
 * adapter); createSession reports that with the list.
 */
export function availableDevices(): DeviceName[] {
  if (probed) return [...probed];
  const found = new Set<DeviceName>(['cpu']);
  const bindingDir = locateBindingDir();
  for (const backend of ort.listSupportedBackends()) {
    const name = backend.name as DeviceName;
    if (!KNOWN_DEVICES.includes(name)) continue;
    if (backend.bundled || (bindingDir && hasProviderLibrary(bindingDir, name))) found.add(name);
  }
  probed = KNOWN_DEVICES.filter((d) => found.has(d));
  return [...probed];
}

export function executionProviderFor(device: DeviceName): string {
  return EXECUTION_PROVIDER[device];
}

export function isKnownDevice(name: string): name is DeviceName {
  return (KNOWN_DEVICES as readonly string[]).includes(name);
}

function locateBindingDir(): string | undefined {
  try {
    const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return fs.existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function hasProviderLibrary(dir: string, device: DeviceName): boolean {
  return fs.readdirSync(dir).some((f) => f.startsWith(`libonnxruntime_providers_${device}`));
}
