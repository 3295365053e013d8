// pmp-mail benchmark: pmp-mail (PmpMail.Interop -> native library) vs the Microsoft Graph .NET SDK
// with MSAL.NET, both against pmp-graph-emulator, each side in its own child process.
// Prints numbers; nothing asserts a timing. Normally started by `build.ps1 bench`.
//
//   dotnet PmpMail.Bench.dll --emulator target/debug/pmp-graph-emulator --native target/debug/libpmp_mail.so
//       [--profile debug] [--seq 200] [--workers 4] [--per-worker 100] [--large-mb 5] [--large-reps 2]
//       [--sides pmp,graph|none] [--strict]
//       [--bulk 1000] [--bulk-mailboxes 10] [--bulk-latency-ms 150] [--bulk-jitter-ms 50]
//       [--bulk-sides batch,pipeline,serial,graph] [--module dist/PmpMail] [--pwsh pwsh]
//   dotnet PmpMail.Bench.dll --side pmp|graph|idle ...   (child mode, used by the parent)
//   dotnet PmpMail.Bench.dll --bulk-side batch|pipeline|serial|graph ...   (child mode, bulk scenario)
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using PmpMail.Bench;
using PmpMail.Interop;
using PmpMail.Interop.Native;

var args2 = ParseArgs(args);
string Opt(string name, string fallback) => args2.TryGetValue(name, out var v) ? v : fallback;
int IntOpt(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(Fmt.Inv)), Fmt.Inv);

var native = Opt("native", Environment.GetEnvironmentVariable(NativeLibraryResolver.PathOverrideVariable) ?? string.Empty);
if (native.Length > 0)
{
    native = Path.GetFullPath(native);
    Environment.SetEnvironmentVariable(NativeLibraryResolver.PathOverrideVariable, native);
}

var emulatorBinary = Path.GetFullPath(Opt("emulator", Environment.GetEnvironmentVariable("PMP_EMULATOR_BIN") ?? "target/debug/pmp-graph-emulator"));
var largeMb = double.Parse(Opt("large-mb", "5"), Fmt.Inv);
var options = new BenchOptions(
    emulatorBinary,
    IntOpt("seq", 200),
    IntOpt("workers", 4),
    IntOpt("per-worker", 100),
    (int)(largeMb * 1024 * 1024),
    IntOpt("large-reps", 2));

var bulk = new BulkOptions(
    IntOpt("bulk", 1000),
    IntOpt("bulk-mailboxes", 10),
    IntOpt("bulk-latency-ms", 150),
    IntOpt("bulk-jitter-ms", 50),
    Path.GetFullPath(Opt("module", FindModule() ?? "dist/PmpMail")),
    Opt("pwsh", "pwsh"));

if (args2.TryGetValue("side", out var childSide))
{
    return childSide == "idle" ? Child.Idle() : await new Child(childSide, options).RunAsync();
}

if (args2.TryGetValue("bulk-side", out var bulkSide))
{
    return await new BulkChild(bulkSide, options, bulk).RunAsync();
}

return await ParentAsync();

async Task<int> ParentAsync()
{
    if (!File.Exists(emulatorBinary))
    {
        Console.Error.WriteLine($"bench: emulator binary {emulatorBinary} not found (--emulator or PMP_EMULATOR_BIN)");
        return 2;
    }

    var profile = Opt("profile", "unknown");
    var sides = Opt("sides", "pmp,graph").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(s => s != "none").ToArray();
    var bulkSides = bulk.Messages > 0
        ? Opt("bulk-sides", string.Join(',', BulkOptions.AllSides)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(s => s != "none").ToArray()
        : [];
    var strict = args2.ContainsKey("strict") || Environment.GetEnvironmentVariable("PMP_BENCH_STRICT") == "1";

    string nativeVersion;
    try
    {
        nativeVersion = PmpMailClient.NativeVersion;
    }
    catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
    {
        nativeVersion = $"not loadable ({e.GetType().Name})";
    }

    var load0 = LoadAverage();
    var started = Stopwatch.GetTimestamp();
    var idle = sides.Length > 0 ? await RunChildAsync("side", "idle") : null;
    var reports = new List<SideReport>();
    var crashed = false;
    foreach (var s in sides)
    {
        var r = await RunChildAsync("side", s);
        if (r is null)
        {
            crashed = true;
            r = new SideReport { Side = s };
            r.Warnings.Add("child process produced no result (see its output above)");
        }

        reports.Add(r);
    }

    var total = Fmt.ElapsedMs(started);
    if (reports.Count > 0)
    {
        PrintTable(reports, idle, profile, nativeVersion, load0, LoadAverage(), total);
    }

    var bulkReports = new List<SideReport>();
    var bulkStarted = Stopwatch.GetTimestamp();
    var bulkLoad0 = LoadAverage();
    foreach (var s in bulkSides)
    {
        var r = await RunChildAsync("bulk-side", s);
        if (r is null)
        {
            crashed = true;
            r = new SideReport { Side = s };
            r.Warnings.Add("child process produced no result (see its output above)");
        }

        bulkReports.Add(r);
    }

    if (bulkReports.Count > 0)
    {
        PrintBulkTable(bulkReports, profile, nativeVersion, bulkLoad0, LoadAverage(), Fmt.ElapsedMs(bulkStarted));
    }

    var warnings = reports.Concat(bulkReports).Sum(r => r.Warnings.Count);
    if (crashed)
    {
        return 1;
    }

    return strict && warnings > 0 ? 1 : 0;
}

async Task<SideReport?> RunChildAsync(string mode, string side)
{
    var self = Environment.ProcessPath ?? "dotnet";
    var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false, StandardOutputEncoding = Encoding.UTF8 };
    if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
    {
        psi.ArgumentList.Add(typeof(Child).Assembly.Location);
    }

    foreach (var a in new[]
             {
                 "--" + mode, side, "--emulator", emulatorBinary,
                 "--seq", options.Sequential.ToString(Fmt.Inv), "--workers", options.Workers.ToString(Fmt.Inv),
                 "--per-worker", options.PerWorker.ToString(Fmt.Inv), "--large-mb", largeMb.ToString(Fmt.Inv),
                 "--large-reps", options.LargeRepetitions.ToString(Fmt.Inv),
                 "--bulk", bulk.Messages.ToString(Fmt.Inv), "--bulk-mailboxes", bulk.Mailboxes.ToString(Fmt.Inv),
                 "--bulk-latency-ms", bulk.LatencyMs.ToString(Fmt.Inv), "--bulk-jitter-ms", bulk.JitterMs.ToString(Fmt.Inv),
                 "--module", bulk.ModulePath, "--pwsh", bulk.Pwsh,
             })
    {
        psi.ArgumentList.Add(a);
    }

    if (native.Length > 0)
    {
        psi.ArgumentList.Add("--native");
        psi.ArgumentList.Add(native);
    }

    // stderr (progress) goes straight through to ours.
    using var child = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {self}");
    SideReport? report = null;
    using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
    try
    {
        string? line;
        while ((line = await child.StandardOutput.ReadLineAsync(cts.Token)) is not null)
        {
            if (line.StartsWith("BENCH-RESULT ", StringComparison.Ordinal))
            {
                report = JsonSerializer.Deserialize(line["BENCH-RESULT ".Length..], ReportJson.Default.SideReport);
            }
            else
            {
                Console.Error.WriteLine($"[{side}] {line}");
            }
        }

        await child.WaitForExitAsync(cts.Token);
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine($"bench: the {side} child ran for 10 minutes; killing it");
        child.Kill(entireProcessTree: true);
        return null;
    }

    if (child.ExitCode != 0)
    {
        Console.Error.WriteLine($"bench: the {side} child exited with {child.ExitCode}");
    }

    return report;
}

void PrintTable(List<SideReport> reports, SideReport? idle, string profile, string nativeVersion, string load0, string load1, double totalMs)
{
    static string SideName(string s) => s switch
    {
        "pmp" => "pmp-mail",
        "graph" => "Graph SDK+MSAL",
        _ => s,
    };

    var sb = new StringBuilder();
    sb.AppendLine();
    sb.AppendLine("pmp-mail benchmark (numbers only; nothing here is asserted)");
    sb.AppendLine($"  machine:   {Environment.ProcessorCount} logical cores, {CpuModel()}, {RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}");
    sb.AppendLine($"  load avg:  {load0} at start, {load1} at end (other work on the box skews both sides)");
    sb.AppendLine($"  runtime:   .NET {Environment.Version}, bench built {BuildConfiguration()}, workstation GC");
    sb.AppendLine($"  native:    pmp-mail {nativeVersion}, cargo profile '{profile}' ({(native.Length > 0 ? native : "default probing")})");
    sb.AppendLine($"  emulator:  {emulatorBinary} (profile '{profile}'), fresh process per scenario, throttling lifted");
    sb.AppendLine($"  peer:      Microsoft.Graph 6.10.0 + Microsoft.Identity.Client 4.92.0 (ConfidentialClientApplication, client secret)");
    sb.AppendLine($"  sides ran: {string.Join(" then ", reports.Select(r => SideName(r.Side)))}, each in its own child process; total {Fmt.Ms(totalMs)}");
    if (idle?.Metrics.Find(m => m.Key == "mem.hwm") is { } idleHwm)
    {
        sb.AppendLine($"  baseline:  an idle bench child (no client loaded) peaks at {idleHwm.Value} RSS");
    }

    var anyWarning = AppendTable(sb, reports, SideName);
    sb.AppendLine();
    sb.AppendLine(anyWarning
        ? "!!! Correctness warnings above: some numbers may not compare like for like."
        : "Correctness: emulator messagesAccepted matched the mails sent in every scenario, on both sides.");
    Console.WriteLine(sb.ToString());
}

// The markdown table: one row per metric key (first appearance across the sides), one column per
// side, then the sides' warnings. Returns whether there were any.
static bool AppendTable(StringBuilder sb, List<SideReport> reports, Func<string, string> sideName)
{
    // Row order: first appearance across the sides.
    var rows = new List<(string Key, string Label)>();
    foreach (var r in reports)
    {
        foreach (var m in r.Metrics)
        {
            if (!rows.Exists(x => x.Key == m.Key))
            {
                rows.Add((m.Key, m.Label));
            }
        }
    }

    var labelWidth = Math.Max(20, rows.Count == 0 ? 0 : rows.Max(r => r.Label.Length));
    var colWidth = Math.Max(18, reports.SelectMany(r => r.Metrics).Select(m => m.Value.Length).Concat(reports.Select(r => sideName(r.Side).Length)).DefaultIfEmpty(0).Max());
    sb.AppendLine();
    sb.Append("| ").Append("Scenario".PadRight(labelWidth));
    foreach (var r in reports)
    {
        sb.Append(" | ").Append(sideName(r.Side).PadRight(colWidth));
    }

    sb.AppendLine(" |");
    sb.Append("|-").Append(new string('-', labelWidth));
    foreach (var unused in reports)
    {
        sb.Append("-|-").Append(new string('-', colWidth));
    }

    sb.AppendLine("-|");
    foreach (var (key, label) in rows)
    {
        sb.Append("| ").Append(label.PadRight(labelWidth));
        foreach (var r in reports)
        {
            var value = r.Metrics.Find(m => m.Key == key)?.Value ?? "-";
            sb.Append(" | ").Append(value.PadLeft(colWidth));
        }

        sb.AppendLine(" |");
    }

    var anyWarning = false;
    foreach (var r in reports)
    {
        foreach (var w in r.Warnings)
        {
            anyWarning = true;
            sb.Append("| ").Append("!!! WARNING".PadRight(labelWidth)).Append(" | ")
              .Append($"{sideName(r.Side)}: {w}").AppendLine();
        }
    }


    return anyWarning;
}

void PrintBulkTable(List<SideReport> reports, string profile, string nativeVersion, string load0, string load1, double totalMs)
{
    var sb = new StringBuilder();
    var jitter = bulk.JitterMs > 0 ? $" ± {bulk.JitterMs} ms (uniform)" : string.Empty;
    sb.AppendLine();
    sb.AppendLine($"Bulk sending: {bulk.Messages} messages round-robin over {bulk.Mailboxes} sending mailboxes (numbers only; nothing here is asserted)");
    sb.AppendLine($"  emulator:  sendMail latency {bulk.LatencyMs} ms{jitter} via the directory's [latency] table, spent inside");
    sb.AppendLine($"             the throttling slot; Graph's per-mailbox limit ON ({BulkOptions.PerMailbox} concurrent per app + mailbox, else 429");
    sb.AppendLine("             Retry-After 1); fresh emulator per side; profile '" + profile + "'");
    sb.AppendLine($"  ceiling:   {bulk.Mailboxes} mailboxes x {BulkOptions.PerMailbox} / {bulk.LatencyMs} ms = {Fmt.Rate(bulk.CeilingPerSecond)} (the most any client can get)");
    sb.AppendLine($"  native:    pmp-mail {nativeVersion}; pmp clients allow {Math.Min(64, bulk.Mailboxes * BulkOptions.PerMailbox)} sends in flight ({BulkOptions.PerMailbox} per mailbox)");
    sb.AppendLine($"  pwsh:      {bulk.Pwsh}, module {bulk.ModulePath}; Send-PmpMail with inline -TenantId/-ClientId/-ClientSecret, default throttle");
    sb.AppendLine($"  peer:      Microsoft.Graph 6.10.0 + MSAL.NET, Task.WhenAll, SemaphoreSlim({BulkOptions.PerMailbox}) per mailbox, the SDK's RetryHandler");
    sb.AppendLine($"  load avg:  {load0} at start, {load1} at end; total {Fmt.Ms(totalMs)}");
    sb.AppendLine("  429s received: the emulator's per-mailbox throttling statistics (GET throttling); surfaced: failed items/errors");
    sb.AppendLine("  the caller saw as throttling (THROTTLED / PmpMail.Throttled / an SDK 429 after its retries)");
    var anyWarning = AppendTable(sb, reports, BulkOptions.SideName);
    sb.AppendLine();
    sb.AppendLine(anyWarning
        ? "!!! Correctness warnings above: some numbers may not compare like for like."
        : "Correctness: emulator messagesAccepted matched the mails each side reported sent, and every side sent them all.");
    Console.WriteLine(sb.ToString());
}

static string? FindModule()
{
    // dist/PmpMail at the repository root, found upwards from the working folder or the bench's own folder.
    foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "dist", "PmpMail");
            if (File.Exists(Path.Combine(candidate, "PmpMail.psd1")))
            {
                return candidate;
            }
        }
    }

    return null;
}

static string BuildConfiguration()
{
#if DEBUG
    return "Debug";
#else
    return "Release";
#endif
}

static string CpuModel()
{
    try
    {
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
    }
    catch (IOException)
    {
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}

static string LoadAverage()
{
    try
    {
        var parts = File.ReadAllText("/proc/loadavg").Split(' ');
        return string.Join(' ', parts.Take(3));
    }
    catch (IOException)
    {
        return "n/a";
    }
}

static Dictionary<string, string> ParseArgs(string[] argv)
{
    var d = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i < argv.Length; i++)
    {
        if (!argv[i].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"unexpected argument '{argv[i]}'");
        }

        var name = argv[i][2..];
        if (name == "strict")
        {
            d[name] = "1";
        }
        else if (i + 1 < argv.Length)
        {
            d[name] = argv[++i];
        }
        else
        {
            throw new ArgumentException($"--{name} needs a value");
        }
    }

    return d;
}
