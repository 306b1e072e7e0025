/**
 * The sandbox that runs model-written code (examples/math_coding and, the same file, examples/code_generation):
 * real python3 child processes refusing writes outside their temporary folder, network access (against a real
 * loopback server that must see no connection), starting processes and raising their limits, and stopping
 * runaway time and memory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const copies = [
  'examples/math_coding/flows/math_standard/sandbox.py',
  'examples/code_generation/flows/unit_tests/sandbox.py',
];

interface Result {
  ok: boolean;
  stdout: string;
  stderr: string;
  exit_code: number;
  failure: string;
}

function sandboxed(sandbox: string, code: string, timeoutS = 5, memoryMb = 256): Result & { seconds: number } {
  const started = Date.now();
  const r = spawnSync('python3', [sandbox, String(timeoutS), String(memoryMb)], {
    input: code,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`sandbox.py itself failed (${r.status}): ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as Result), seconds: (Date.now() - started) / 1000 };
}

test('the two examples hold the same sandbox (a team copies one example folder, so each has its own)', () => {
  expect(readFileSync(copies[1], 'utf8')).toBe(readFileSync(copies[0], 'utf8'));
});

describe.each(copies)('%s', (sandbox) => {
  let outside: string;
  beforeEach(() => {
    outside = mkdtempSync(path.join(os.tmpdir(), 'llmops-sandbox-outside-'));
    writeFileSync(path.join(outside, 'keep.txt'), 'original');
  });
  afterEach(() => rmSync(outside, { recursive: true, force: true }));
  const untouched = () => {
    expect(readdirSync(outside)).toEqual(['keep.txt']);
    expect(readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('original');
  };

  test('ordinary code runs and may write and read files in its own folder', () => {
    const r = sandboxed(
      sandbox,
      'import math\nwith open("notes.txt", "w") as f:\n    f.write(str(math.comb(10, 3)))\nprint(open("notes.txt").read())\n',
    );
    expect(r).toMatchObject({ ok: true, stdout: '120\n', failure: '' });
  });

  test.each([
    ['open for writing', (p: string) => `open(${p}, "w").write("x")`],
    ['open for appending', (p: string) => `open(${p}, "a").write("x")`],
    ['os.open with O_CREAT', (p: string) => `import os\nos.open(${p}, os.O_CREAT | os.O_WRONLY)`],
    ['pathlib write_text', (p: string) => `import pathlib\npathlib.Path(${p}).write_text("x")`],
    ['os.mkdir', (p: string) => `import os\nos.mkdir(${p})`],
  ])('refuses writing outside its folder: %s', (_name, make) => {
    const target = JSON.stringify(path.join(outside, 'new.txt'));
    const r = sandboxed(sandbox, make(target));
    expect(r.ok).toBe(false);
    expect(r.failure).toMatch(/^refused: (writing|os\.mkdir on) '.*new\.txt' \(outside the sandbox folder\)$/);
    untouched();
  });

  test('refuses removing, renaming or overwriting a file outside its folder', () => {
    const keep = JSON.stringify(path.join(outside, 'keep.txt'));
    for (const code of [
      `import os\nos.remove(${keep})`,
      `import os\nos.rename(${keep}, "moved.txt")`,
      `open(${keep}, "r+").write("changed")`,
      `import shutil\nshutil.rmtree(${JSON.stringify(outside)})`,
    ]) {
      expect(sandboxed(sandbox, code).failure).toMatch(/^refused: /);
      untouched();
    }
  });

  test('refuses network access: the loopback server it tries never sees a connection', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.end('HTTP/1.0 200 OK\r\n\r\nhello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      for (const code of [
        `import socket\nsocket.create_connection(("127.0.0.1", ${port}), timeout=2)`,
        `import urllib.request\nprint(urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=2).read())`,
        `import socket\nsocket.getaddrinfo("example.com", 80)`,
      ]) {
        const r = sandboxed(sandbox, code);
        expect(r.ok).toBe(false);
        expect(r.failure).toBe('refused: network access');
        expect(r.stdout).toBe('');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(connections).toBe(0);
      // The same client code outside the sandbox does reach the server (the refusal is the sandbox's doing).
      const direct = spawnSync('python3', ['-c', `import socket\nsocket.create_connection(("127.0.0.1", ${port}))`]);
      expect(direct.status).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(connections).toBe(1);
    } finally {
      server.close();
    }
  });

  test('refuses starting processes and raising its own limits', () => {
    const marker = path.join(outside, 'ran.txt');
    for (const [code, refused] of [
      [`import os\nos.system("touch ${marker}")`, 'refused: os.system'],
      [`import subprocess\nsubprocess.run(["touch", "${marker}"])`, 'refused: subprocess.Popen'],
      [`import os\nos.execv("/bin/touch", ["touch", "${marker}"])`, 'refused: os.exec'],
      ['import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1000, 1000))', 'refused: resource.setrlimit'],
      ['import ctypes\nctypes.CDLL(None).system(b"true")', 'refused: ctypes.dlopen'],
    ]) {
      expect(sandboxed(sandbox, code).failure).toBe(refused);
    }
    expect(existsSync(marker)).toBe(false);
  });

  test('stops a busy loop and a sleeping program at the time limit', () => {
    for (const code of ['while True:\n    pass\n', 'import time\ntime.sleep(60)\n']) {
      const r = sandboxed(sandbox, code, 1);
      expect(r).toMatchObject({ ok: false, failure: 'timeout: still running after 1 s' });
      expect(r.seconds).toBeLessThan(10);
    }
  });

  test('stops a program that takes more memory than its limit', () => {
    for (const code of [
      'data = bytearray(512 * 1024 * 1024)\n',
      'rows = []\nwhile True:\n    rows.append("x" * 10**6)\n',
    ]) {
      const r = sandboxed(sandbox, code, 10, 128);
      expect(r).toMatchObject({ ok: false, failure: 'memory: more than 128 MB' });
    }
    // The limit is the program's, not a global one: 64 MB fits in 256 MB.
    expect(sandboxed(sandbox, 'data = bytearray(64 * 1024 * 1024)\nprint(len(data))\n')).toMatchObject({ ok: true });
  });

  test("the program's own errors are reported with their last line", () => {
    expect(sandboxed(sandbox, 'print(1 / 0)').failure).toBe('error: ZeroDivisionError: division by zero');
    expect(sandboxed(sandbox, 'def broken(:\n').failure).toMatch(/^error: SyntaxError: /);
  });
});
