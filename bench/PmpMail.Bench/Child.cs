using System.Diagnostics;
using System.Security.Cryptography;

namespace PmpMail.Bench;

/// <summary>Benchmark parameters, identical for both sides.</summary>
internal sealed record BenchOptions(
    string EmulatorBinary,
    int Sequential,
    int Workers,
    int PerWorker,
    int LargeBytes,
    int LargeRepetitions);

/// <summary>
/// Runs every scenario for one side in this (child) process, each against a fresh emulator, then
/// reports this process's peak RSS and managed allocations. Timings are reported, never asserted;
/// wrong emulator counts become warnings.
/// </summary>
internal sealed class Child(string side, BenchOptions options)
{
    private readonly SideReport _report = new() { Side = side };
    private readonly byte[] _small = Bytes(1024, 1);
    private readonly byte[] _large = Bytes(options.LargeBytes, 2);
    private int _mailsSent;
    private Emulator? _largeEmulator;

    private static long Allocated() => GC.GetTotalAllocatedBytes(precise: true);

    /// <summary>CPU time of this whole process (every thread, the native library's included; the emulator runs elsewhere).</summary>
    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static string KiBPerMail(long bytes, int mails) =>
        mails == 0 ? "n/a" : (bytes / 1024.0 / mails).ToString("F1", Fmt.Inv) + " KiB";

    public static int Idle()
    {
        // Baseline: a bench process that loads neither client.
        var report = new SideReport { Side = "idle" };
        AddMemory(report, GC.GetTotalAllocatedBytes(precise: true));
        Console.WriteLine("BENCH-RESULT " + System.Text.Json.JsonSerializer.Serialize(report, ReportJson.Default.SideReport));
        return 0;
    }

    public async Task<int> RunAsync()
    {
        Func<Emulator, IMailSide> create = side switch
        {
            "pmp" => emu => new PmpSide(emu),
            "graph" => emu => new GraphSide(emu),
            _ => throw new ArgumentException($"unknown side '{side}' (pmp | graph)"),
        };

        var allocatedBefore = Allocated();
        await Scenario("cold", () => ColdAsync(create));
        await Scenario("sequential", () => SequentialAsync(create));
        await Scenario("concurrent", () => ConcurrentAsync(create));
        await Scenario("large", () => LargeAsync(create));

        // Memory first (before the bench's own verification reads megabytes of recorded messages).
        AddMemory(_report, Allocated() - allocatedBefore);
        _report.Add("mails", "   mails sent by this child (all scenarios)", _mailsSent.ToString(Fmt.Inv));

        if (_largeEmulator is not null)
        {
            await Scenario("large-verify", VerifyLargeAsync);
            await _largeEmulator.DisposeAsync();
        }

        Console.WriteLine("BENCH-RESULT " + System.Text.Json.JsonSerializer.Serialize(_report, ReportJson.Default.SideReport));
        return 0;
    }

    private static void AddMemory(SideReport report, long allocated)
    {
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        report.Add("mem.hwm", "5. Memory: peak RSS (VmHWM, whole child process)", ReadStatusKb("VmHWM") is { } hwm ? Fmt.MiB(hwm * 1024) : "n/a");
        report.Add("mem.managed", "   managed bytes allocated by the scenarios (GC.GetTotalAllocatedBytes)", Fmt.MiB(allocated));
        report.Add("mem.cpu", "   CPU time of the child (user+sys; emulator excluded)", cpu.TotalSeconds.ToString("F2", Fmt.Inv) + " s");
    }

    private async Task Scenario(string name, Func<Task> body)
    {
        Console.Error.WriteLine($"[{side}] {name} ...");
        var start = Stopwatch.GetTimestamp();
        try
        {
            await body();
        }
        catch (Exception e)
        {
            _report.Warn($"{name} failed: {Describe(e)}");
        }

        Console.Error.WriteLine($"[{side}] {name} done in {Fmt.Ms(Fmt.ElapsedMs(start))}");
    }

    private static string Describe(Exception e)
    {
        var text = $"{e.GetType().Name}: {e.Message}";
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            text += $" -> {inner.GetType().Name}: {inner.Message}";
        }

        return text.Length <= 600 ? text : text[..600] + "...";
    }

    private async Task<Emulator> StartEmulatorAsync() => await Emulator.StartAsync(options.EmulatorBinary);

    private void Expect(string scenario, CountersRecord delta, long accepted)
    {
        if (delta.MessagesAccepted != accepted)
        {
            _report.Warn($"{scenario}: emulator messagesAccepted = {delta.MessagesAccepted}, expected {accepted}");
        }
    }

    // 1. Cold first send in a new process: client creation + token + TLS + sendMail (+ JIT and
    //    library loading, which a fresh PowerShell session also pays). Then the same again with a
    //    brand-new client in the now-warm process.
    private async Task ColdAsync(Func<Emulator, IMailSide> create)
    {
        await using var emu = await StartEmulatorAsync();
        var before = await emu.CountersAsync();

        var start = Stopwatch.GetTimestamp();
        await using (var client = create(emu))
        {
            await client.SendSmallAsync("bench cold 1", _small);
            _report.Add("cold.first", "1. Cold first send (new process: create+token+TLS+send)", Fmt.Ms(Fmt.ElapsedMs(start)));
            _mailsSent++;
        }

        const int again = 5;
        var times = new double[again];
        var creates = new double[again];
        for (var i = 0; i < again; i++)
        {
            start = Stopwatch.GetTimestamp();
            await using (var client = create(emu))
            {
                creates[i] = Fmt.ElapsedMs(start);
                await client.SendSmallAsync($"bench cold again {i}", _small);
                times[i] = Fmt.ElapsedMs(start);
                _mailsSent++;
            }
        }

        Array.Sort(times);
        Array.Sort(creates);
        _report.Add("cold.second", $"   new client + first send, JIT warm: median of {again}", Fmt.Ms(Fmt.Median(times)));
        _report.Add("cold.create", "   of which client creation (median)", Fmt.Ms(Fmt.Median(creates)));

        var delta = (await emu.CountersAsync()).Minus(before);
        _report.Add("cold.requests", "   HTTP requests per new-client send (token+sendMail)", (delta.Requests / (double)(again + 1)).ToString("0.#", Fmt.Inv));
        Expect("cold", delta, again + 1);
    }

    // 2. Sequential sends through one client, after one warm-up send (token + connection).
    private async Task SequentialAsync(Func<Emulator, IMailSide> create)
    {
        await using var emu = await StartEmulatorAsync();
        var before = await emu.CountersAsync();
        await using var client = create(emu);
        await client.SendSmallAsync("bench seq warm-up", _small);
        _mailsSent++;

        var n = options.Sequential;
        var latencies = new double[n];
        var allocated = Allocated();
        var cpu = ProcessCpu();
        var all = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await client.SendSmallAsync($"bench seq {i}", _small);
            latencies[i] = Fmt.ElapsedMs(start);
            _mailsSent++;
        }

        var totalMs = Fmt.ElapsedMs(all);
        cpu = ProcessCpu() - cpu;
        allocated = Allocated() - allocated;
        Array.Sort(latencies);
        var label = $"2. Sequential N={n} (1 KB attachment)";
        _report.Add("seq.p50", $"{label}: p50", Fmt.Ms(Fmt.Percentile(latencies, 50)));
        _report.Add("seq.p95", "   p95", Fmt.Ms(Fmt.Percentile(latencies, 95)));
        _report.Add("seq.p99", "   p99", Fmt.Ms(Fmt.Percentile(latencies, 99)));
        _report.Add("seq.rate", "   throughput", Fmt.Rate(n * 1000.0 / totalMs));
        _report.Add("seq.alloc", "   managed bytes allocated per mail", KiBPerMail(allocated, n));
        _report.Add("seq.cpu", "   client CPU per mail (all threads of the child, user+sys)", (cpu.TotalMilliseconds * 1000.0 / n).ToString("F0", Fmt.Inv) + " µs");

        var delta = (await emu.CountersAsync()).Minus(before);
        _report.Add("seq.tokens", "   token requests (incl. warm-up)", delta.TokenRequests.ToString(Fmt.Inv));
        Expect("sequential", delta, n + 1);
    }

    // 3. Concurrent sends: W workers share ONE client; timed from a cold client (first token included).
    private async Task ConcurrentAsync(Func<Emulator, IMailSide> create)
    {
        await using var emu = await StartEmulatorAsync();
        var before = await emu.CountersAsync();
        await using var client = create(emu);

        var workers = options.Workers;
        var perWorker = options.PerWorker;
        var latencies = new double[workers * perWorker];
        var failures = 0;
        string? firstFailure = null;
        var gate = new ManualResetEventSlim(false);
        var tasks = new Task[workers];
        for (var w = 0; w < workers; w++)
        {
            var worker = w;
            // Dedicated threads: pmp-mail's SendMail blocks, and the thread pool would otherwise
            // ramp up slowly on 2 cores. The Graph SDK's awaits continue on the pool as usual.
            tasks[w] = Task.Factory.StartNew(
                async () =>
                {
                    gate.Wait();
                    for (var i = 0; i < perWorker; i++)
                    {
                        var start = Stopwatch.GetTimestamp();
                        try
                        {
                            await client.SendSmallAsync($"bench conc {worker}-{i}", _small);
                            latencies[(worker * perWorker) + i] = Fmt.ElapsedMs(start);
                        }
                        catch (Exception e)
                        {
                            latencies[(worker * perWorker) + i] = double.NaN;
                            if (Interlocked.Increment(ref failures) == 1)
                            {
                                firstFailure = Describe(e);
                            }
                        }
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default).Unwrap();
        }

        var allocated = Allocated();
        var all = Stopwatch.GetTimestamp();
        gate.Set();
        await Task.WhenAll(tasks);
        var totalMs = Fmt.ElapsedMs(all);
        allocated = Allocated() - allocated;
        var ok = latencies.Where(l => !double.IsNaN(l)).OrderBy(l => l).ToArray();
        _mailsSent += ok.Length;
        if (failures > 0)
        {
            _report.Warn($"concurrent: {failures} of {latencies.Length} sends failed; first: {firstFailure}");
        }

        var label = $"3. Concurrent {workers}x{perWorker}, one client";
        _report.Add("conc.rate", $"{label}: throughput", Fmt.Rate(ok.Length * 1000.0 / totalMs));
        _report.Add("conc.wall", "   wall time", Fmt.Ms(totalMs));
        _report.Add("conc.p50", "   p50 latency", Fmt.Ms(Fmt.Percentile(ok, 50)));
        _report.Add("conc.p95", "   p95 latency", Fmt.Ms(Fmt.Percentile(ok, 95)));
        _report.Add("conc.alloc", "   managed bytes allocated per mail", KiBPerMail(allocated, ok.Length));

        var delta = (await emu.CountersAsync()).Minus(before);
        _report.Add("conc.tokens", "   token requests (emulator tokenRequests delta)", delta.TokenRequests.ToString(Fmt.Inv));
        if (side == "pmp" && delta.TokenRequests != 1)
        {
            _report.Warn($"concurrent: pmp-mail made {delta.TokenRequests} token requests through one client, expected 1");
        }

        Expect("concurrent", delta, ok.Length);
        if (ok.Length != latencies.Length)
        {
            _report.Warn($"concurrent: only {ok.Length} of {latencies.Length} mails were sent");
        }
    }

    // 4. Large attachment through an upload session, after one warm-up send: K sends with the bytes
    //    in memory and K with the attachment given as a file path, interleaved (memory, file, memory,
    //    ...) so that a drift of the box or the emulator over the run hits both alike; median of each.
    private async Task LargeAsync(Func<Emulator, IMailSide> create)
    {
        var emu = await StartEmulatorAsync();
        _largeEmulator = emu;
        var before = await emu.CountersAsync();
        await using var client = create(emu);
        await client.SendSmallAsync("bench large warm-up", _small);
        _mailsSent++;

        var reps = options.LargeRepetitions;
        var mb = (options.LargeBytes / (1024.0 * 1024.0)).ToString("0.#", Fmt.Inv);
        var file = Path.Combine(Path.GetTempPath(), $"pmp-bench-{Environment.ProcessId}-{Mail.LargeName}");
        await File.WriteAllBytesAsync(file, _large);
        var memory = new LargeTimes(reps);
        var fromFile = new LargeTimes(reps);
        var requestsBefore = (await emu.CountersAsync()).Requests;
        try
        {
            for (var i = 0; i < reps; i++)
            {
                await TimeLargeAsync(memory, () => client.SendLargeAsync($"bench large {2 * i}", _large));
                await TimeLargeAsync(fromFile, () => client.SendLargeFileAsync($"bench large {(2 * i) + 1}", file));
            }
        }
        finally
        {
            File.Delete(file);
        }

        _report.Add("large.median", $"4. Large {mb} MiB attachment (upload session), in memory: median of {reps}", Fmt.Ms(memory.Median()));
        _report.Add("large.alloc", "   managed bytes allocated per large mail", Fmt.Size(memory.Allocated / reps));
        _report.Add("large.requests", "   HTTP requests per large mail", (((await emu.CountersAsync()).Requests - requestsBefore) / (2.0 * reps)).ToString("0.#", Fmt.Inv));
        _report.Add("large.file", $"   same from a file path (interleaved with the above): median of {reps}", Fmt.Ms(fromFile.Median()));
        _report.Add("large.file.alloc", "   managed bytes allocated per large mail (file)", Fmt.Size(fromFile.Allocated / reps));

        Expect("large", (await emu.CountersAsync()).Minus(before), (2 * reps) + 1);
    }

    /// <summary>The times and managed allocations of one kind of large send.</summary>
    private sealed class LargeTimes(int capacity)
    {
        public List<double> Times { get; } = new(capacity);

        public long Allocated { get; set; }

        public double Median()
        {
            var sorted = Times.ToArray();
            Array.Sort(sorted);
            return Fmt.Median(sorted);
        }
    }

    private async Task TimeLargeAsync(LargeTimes into, Func<ValueTask> send)
    {
        var allocated = Allocated();
        var start = Stopwatch.GetTimestamp();
        await send();
        into.Times.Add(Fmt.ElapsedMs(start));
        into.Allocated += Allocated() - allocated;
        _mailsSent++;
    }

    private async Task VerifyLargeAsync()
    {
        var expected = Convert.ToHexString(SHA256.HashData(_large)).ToLowerInvariant();
        var messages = await _largeEmulator!.MessagesAsync();
        var large = messages.Where(m => m.Subject.StartsWith("bench large ", StringComparison.Ordinal) && m.Subject != "bench large warm-up").ToList();
        var exact = large.Count(m => m.Attachments.Count == 1
                                     && m.Attachments[0].Size == _large.Length
                                     && string.Equals(m.Attachments[0].Sha256, expected, StringComparison.OrdinalIgnoreCase));
        if (exact != 2 * options.LargeRepetitions)
        {
            _report.Warn($"large: {exact} of {2 * options.LargeRepetitions} recorded large messages carry the exact attachment bytes");
        }
    }

    private static long? ReadStatusKb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var digits = new string(line.AsSpan(field.Length + 1).ToString().Where(char.IsAsciiDigit).ToArray());
                return long.TryParse(digits, System.Globalization.NumberStyles.None, Fmt.Inv, out var kb) ? kb : null;
            }
        }

        return null;
    }

    private static byte[] Bytes(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
