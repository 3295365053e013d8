using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Graph;
using Microsoft.Graph.Models;
using Microsoft.Graph.Users.Item.SendMail;
using Microsoft.Kiota.Abstractions;
using PmpMail.Interop;

namespace PmpMail.Bench;

/// <summary>Parameters of the bulk scenario, identical for every bulk side.</summary>
internal sealed record BulkOptions(
    int Messages,
    int Mailboxes,
    int LatencyMs,
    int JitterMs,
    string ModulePath,
    string Pwsh)
{
    /// <summary>Graph's limit of concurrent requests per app + mailbox, which the emulator enforces by default.</summary>
    public const int PerMailbox = 4;

    /// <summary>The most any client can send: every mailbox's 4 slots busy all the time, each send taking the mean latency.</summary>
    public double CeilingPerSecond => Mailboxes * PerMailbox * 1000.0 / LatencyMs;

    public static readonly string[] AllSides = ["batch", "pipeline", "serial", "graph"];

    public static string SideName(string side) => side switch
    {
        "batch" => "pmp batch (C#)",
        "pipeline" => "Send-PmpMail pipeline",
        "serial" => "pmp one-by-one",
        "graph" => "Graph SDK 4/mailbox",
        _ => side,
    };
}

/// <summary>
/// One side of the bulk scenario in this (child) process: N messages spread round-robin over M
/// sending mailboxes, against an emulator that keeps Graph's per-mailbox limit of 4 concurrent
/// requests and adds sendMail latency. Reports throughput, the share of the ceiling, 429s the
/// emulator returned and throttling errors the caller saw, token requests and peak memory.
/// Numbers only: nothing here is asserted; wrong emulator counts become warnings.
/// </summary>
internal sealed class BulkChild(string side, BenchOptions bench, BulkOptions options)
{
    private readonly SideReport _report = new() { Side = side };

    public async Task<int> RunAsync()
    {
        Console.Error.WriteLine($"[bulk {side}] {options.Messages} messages to {options.Mailboxes} mailboxes ...");
        var start = Stopwatch.GetTimestamp();
        try
        {
            await using var emu = await Emulator.StartBulkAsync(bench.EmulatorBinary, options.Mailboxes, options.LatencyMs, options.JitterMs);
            var before = await emu.CountersAsync();
            var outcome = side switch
            {
                "batch" => await BatchAsync(emu),
                "serial" => Serial(emu),
                "graph" => await GraphAsync(emu),
                "pipeline" => await PowerShellAsync(emu, "pipeline"),
                _ => throw new ArgumentException($"unknown bulk side '{side}' ({string.Join(" | ", BulkOptions.AllSides)})"),
            };
            var delta = (await emu.CountersAsync()).Minus(before);
            var received429 = await emu.ThrottledAsync();
            var peak = await emu.PeakInFlightAsync();
            Report(outcome, delta, received429, peak);

            if (side == "pipeline")
            {
                // A fresh pwsh against the same emulator: 20 single calls, each naming the app inline.
                before = await emu.CountersAsync();
                var inline = await PowerShellAsync(emu, "inline20");
                delta = (await emu.CountersAsync()).Minus(before);
                _report.Add("bulk.inline20", "20 single Send-PmpMail calls, inline credentials: token requests", delta.TokenRequests.ToString(Fmt.Inv));
                _report.Add("bulk.inline20.sent", "   of those calls sent", $"{inline.Sent} of 20");
                if (delta.MessagesAccepted != inline.Sent)
                {
                    _report.Warn($"inline20: emulator messagesAccepted = {delta.MessagesAccepted}, the calls reported {inline.Sent} sent");
                }
            }
        }
        catch (Exception e)
        {
            _report.Warn($"bulk {side} failed: {e.GetType().Name}: {e.Message}");
        }

        Console.Error.WriteLine($"[bulk {side}] done in {Fmt.Ms(Fmt.ElapsedMs(start))}");
        Console.WriteLine("BENCH-RESULT " + JsonSerializer.Serialize(_report, ReportJson.Default.SideReport));
        return 0;
    }

    /// <summary>What one side saw: counts from its own results, the timed part's duration, the sending process's peak RSS.</summary>
    private sealed record Outcome(int Sent, int Failed, int Unknown, int ThrottledSurfaced, double Ms, long? HwmKb, string? FirstError);

    private void Report(Outcome o, CountersRecord delta, long received429, long peakInFlight)
    {
        var rate = o.Sent * 1000.0 / o.Ms;
        _report.Add("bulk.sent", "sent / failed / unknown", $"{o.Sent} / {o.Failed} / {o.Unknown}");
        _report.Add("bulk.wall", "wall time (first send to last answer)", Fmt.Ms(o.Ms));
        _report.Add("bulk.rate", "throughput", Fmt.Rate(rate));
        _report.Add("bulk.share", "share of the ceiling", (rate / options.CeilingPerSecond * 100).ToString("F1", Fmt.Inv) + " %");
        _report.Add("bulk.429", "429s received (emulator's per-mailbox limits)", received429.ToString(Fmt.Inv));
        _report.Add("bulk.429surfaced", "throttling errors surfaced to the caller", o.ThrottledSurfaced.ToString(Fmt.Inv));
        _report.Add("bulk.tokens", "token requests", delta.TokenRequests.ToString(Fmt.Inv));
        _report.Add("bulk.peak", "peak requests in flight on one mailbox", peakInFlight.ToString(Fmt.Inv));
        _report.Add("bulk.hwm", "peak RSS of the sending process (VmHWM)", o.HwmKb is { } kb ? Fmt.MiB(kb * 1024) : "n/a");
        if (delta.MessagesAccepted != o.Sent)
        {
            _report.Warn($"emulator messagesAccepted = {delta.MessagesAccepted}, the side reported {o.Sent} sent");
        }

        if (o.Sent != options.Messages)
        {
            _report.Warn($"{options.Messages - o.Sent} of {options.Messages} not sent; first error: {o.FirstError}");
        }
    }

    private IEnumerable<(string From, string Subject)> Messages() =>
        Enumerable.Range(0, options.Messages).Select(i => (Emulator.BulkMailbox(i % options.Mailboxes), $"bench bulk {i}"));

    private static PmpMailMessage PmpMessage(string from, string subject)
    {
        var m = new PmpMailMessage { From = from, Subject = subject, Body = Mail.Body, SaveToSentItems = true };
        m.To.Add(Mail.To);
        return m;
    }

    private PmpMailClient PmpClient(Emulator emu) => PmpMailClient.Create(new PmpMailConfig(Emulator.TenantId, Emulator.ClientId)
    {
        Credential = PmpMailCredential.FromClientSecret(Emulator.Secret),
        AuthorityHost = new Uri(emu.AuthorityHost),
        GraphRoot = new Uri(emu.GraphRoot),
        Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = emu.CaPem, TimeoutSeconds = 120 },
        // Every mailbox's 4 slots at once (the default of 16 in all would cap 10 mailboxes at 4 of them).
        Sending = new PmpMailSendingOptions { MaxConcurrent = Math.Min(64, options.Mailboxes * BulkOptions.PerMailbox) },
    });

    // pmp-mail's batch: one call, the library spreads the sends over the mailboxes' slots.
    private async Task<Outcome> BatchAsync(Emulator emu)
    {
        using var client = PmpClient(emu);
        var messages = Messages().Select(m => PmpMessage(m.From, m.Subject)).ToList();
        var start = Stopwatch.GetTimestamp();
        var result = await client.SendMailBatchAsync(messages);
        var ms = Fmt.ElapsedMs(start);
        var notSent = result.Items.Where(i => i.Status != PmpBatchItemStatus.Sent).ToList();
        return new Outcome(
            result.Sent,
            result.Failed + result.Cancelled,
            result.Unknown,
            notSent.Count(i => i.Error is PmpMailThrottledException),
            ms,
            ReadHwmKb(),
            notSent.FirstOrDefault()?.ToString());
    }

    // The plain loop a script would write: SendMail one message after the other.
    private Outcome Serial(Emulator emu)
    {
        using var client = PmpClient(emu);
        var messages = Messages().Select(m => PmpMessage(m.From, m.Subject)).ToList();
        int sent = 0, failed = 0, unknown = 0, throttled = 0;
        string? first = null;
        var start = Stopwatch.GetTimestamp();
        foreach (var m in messages)
        {
            try
            {
                client.SendMail(m);
                sent++;
            }
            catch (PmpMailException e)
            {
                first ??= $"{e.GetType().Name}: {e.Message}";
                throttled += e is PmpMailThrottledException ? 1 : 0;
                if (e is PmpMailOutcomeUnknownException)
                {
                    unknown++;
                }
                else
                {
                    failed++;
                }
            }
        }

        return new Outcome(sent, failed, unknown, throttled, Fmt.ElapsedMs(start), ReadHwmKb(), first);
    }

    // The peer written the way a careful C# developer would: every message a task, a SemaphoreSlim
    // of 4 per mailbox (Graph's documented limit), Task.WhenAll, and the SDK's default middleware
    // (its RetryHandler honours Retry-After on 429/503, up to 3 retries).
    private async Task<Outcome> GraphAsync(Emulator emu)
    {
        var graphSide = new GraphSide(emu);
        await using var _ = graphSide;
        var graph = graphSide.Client;
        var gates = Enumerable.Range(0, options.Mailboxes).ToDictionary(i => Emulator.BulkMailbox(i), _ => new SemaphoreSlim(BulkOptions.PerMailbox));
        var messages = Messages().ToList();
        int sent = 0, failed = 0, throttled = 0;
        string? first = null;
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(messages.Select(async m =>
        {
            var gate = gates[m.From];
            await gate.WaitAsync().ConfigureAwait(false);
            try
            {
                await graph.Users[m.From].SendMail.PostAsync(new SendMailPostRequestBody
                {
                    Message = new Message
                    {
                        Subject = m.Subject,
                        Body = new ItemBody { ContentType = BodyType.Text, Content = Mail.Body },
                        ToRecipients = [new Recipient { EmailAddress = new EmailAddress { Address = Mail.To } }],
                    },
                    SaveToSentItems = true,
                }).ConfigureAwait(false);
                Interlocked.Increment(ref sent);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref failed);
                if (e is ApiException { ResponseStatusCode: 429 })
                {
                    Interlocked.Increment(ref throttled);
                }

                Interlocked.CompareExchange(ref first, $"{e.GetType().Name}: {e.Message}", null);
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);
        var ms = Fmt.ElapsedMs(start);
        return new Outcome(sent, failed, 0, throttled, ms, ReadHwmKb(), first);
    }

    // Send-PmpMail in a fresh pwsh that imports the built module: "pipeline" pipes the messages into
    // one call with -PassThru, "inline20" makes 20 single calls. Credentials inline in both.
    private async Task<Outcome> PowerShellAsync(Emulator emu, string mode)
    {
        var script = Path.Combine(Path.GetTempPath(), $"pmp-bench-bulk-{Environment.ProcessId}.ps1");
        await File.WriteAllTextAsync(script, PowerShellScript);
        try
        {
            var psi = new ProcessStartInfo(options.Pwsh) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[]
                     {
                         "-NoProfile", "-NonInteractive", "-File", script, "-ModulePath", options.ModulePath,
                         "-BaseUrl", emu.BaseUrl, "-CaPath", emu.CaPath, "-Mode", mode,
                         "-Count", options.Messages.ToString(Fmt.Inv), "-Mailboxes", options.Mailboxes.ToString(Fmt.Inv),
                         "-Secret", Emulator.Secret, "-TenantId", Emulator.TenantId, "-ClientId", Emulator.ClientId,
                         "-To", Mail.To, "-Body", Mail.Body,
                     })
            {
                psi.ArgumentList.Add(a);
            }

            using var pwsh = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException($"could not start {options.Pwsh}");
            JsonObject? result = null;
            string? line;
            while ((line = await pwsh.StandardOutput.ReadLineAsync()) is not null)
            {
                if (line.StartsWith("BULK-PS ", StringComparison.Ordinal))
                {
                    result = JsonNode.Parse(line["BULK-PS ".Length..])!.AsObject();
                }
                else
                {
                    Console.Error.WriteLine($"[bulk pwsh] {line}");
                }
            }

            await pwsh.WaitForExitAsync();
            if (result is null)
            {
                throw new InvalidOperationException($"pwsh ({mode}) exited with {pwsh.ExitCode} and no result");
            }

            var errors = result["errors"]!.GetValue<int>();
            return new Outcome(
                result["sent"]!.GetValue<int>(),
                errors - result["unknown"]!.GetValue<int>(),
                result["unknown"]!.GetValue<int>(),
                result["throttled"]!.GetValue<int>(),
                result["ms"]!.GetValue<double>(),
                result["hwmKb"]!.GetValue<long>(),
                result["firstError"]?.GetValue<string>());
        }
        finally
        {
            File.Delete(script);
        }
    }

    // Counts what the caller sees: -PassThru results with Status 'sent', and the ErrorRecords
    // (-ErrorVariable) — the module's ErrorIds: PmpMail.Throttled, PmpMail.OutcomeUnknown, ...
    private const string PowerShellScript = """
        param(
            [string] $ModulePath, [string] $BaseUrl, [string] $CaPath, [string] $Mode, [int] $Count, [int] $Mailboxes,
            [string] $Secret, [string] $TenantId, [string] $ClientId, [string] $To, [string] $Body
        )
        $ErrorActionPreference = 'Stop'
        Import-Module (Join-Path $ModulePath 'PmpMail.psd1')
        $p = @{
            TenantId = $TenantId; ClientId = $ClientId; ClientSecret = (ConvertTo-SecureString $Secret -AsPlainText -Force)
            AuthorityHost = $BaseUrl; GraphRoot = $BaseUrl; TrustedCaPath = $CaPath
        }
        function Get-Mailbox([int] $i) { 'bulk{0:D2}@contoso.onmicrosoft.com' -f (($i % $Mailboxes) + 1) }
        $errs = [Collections.ArrayList]::new()
        if ($Mode -eq 'pipeline') {
            $rows = [Collections.Generic.List[object]]::new()
            for ($i = 0; $i -lt $Count; $i++) {
                $rows.Add([pscustomobject]@{ From = (Get-Mailbox $i); To = $To; Subject = "bench bulk $i"; Body = $Body })
            }
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $results = @($rows | Send-PmpMail @p -PassThru -ErrorAction SilentlyContinue -ErrorVariable +errs)
            $ms = $sw.Elapsed.TotalMilliseconds
        }
        else {
            $results = [Collections.Generic.List[object]]::new()
            $sw = [Diagnostics.Stopwatch]::StartNew()
            for ($i = 0; $i -lt 20; $i++) {
                $r = Send-PmpMail -From (Get-Mailbox $i) -To $To -Subject "bench inline $i" -Body $Body @p -PassThru -ErrorAction SilentlyContinue -ErrorVariable +errs
                if ($r) { $results.Add($r) }
            }
            $ms = $sw.Elapsed.TotalMilliseconds
        }
        $sent = @($results | Where-Object Status -EQ 'sent').Count
        $throttled = @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'PmpMail.Throttled*' }).Count
        $unknown = @($errs | Where-Object { $_.FullyQualifiedErrorId -like 'PmpMail.OutcomeUnknown*' }).Count
        $hwm = [long](((Get-Content /proc/self/status) -match '^VmHWM:' | Select-Object -First 1) -replace '\D', '')
        $first = if ($errs.Count) { "$($errs[0].FullyQualifiedErrorId): $($errs[0])" } else { $null }
        'BULK-PS ' + (@{ ms = $ms; sent = $sent; errors = $errs.Count; unknown = $unknown; throttled = $throttled; hwmKb = $hwm; firstError = $first } | ConvertTo-Json -Compress)
        """;

    private static long? ReadHwmKb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                var digits = new string(line.Where(char.IsAsciiDigit).ToArray());
                return long.TryParse(digits, System.Globalization.NumberStyles.None, Fmt.Inv, out var kb) ? kb : null;
            }
        }

        return null;
    }
}
