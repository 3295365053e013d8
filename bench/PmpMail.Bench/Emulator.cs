using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace PmpMail.Bench;

/// <summary>Emulator counters (contracts §6, <c>GET /_emulator/api/counters</c>).</summary>
internal sealed record Counters(long TokenRequests, long TokensIssued, long SendMailRequests, long MessagesAccepted, long Requests)
{
    public Counters Minus(Counters before) => new(
        TokenRequests - before.TokenRequests,
        TokensIssued - before.TokensIssued,
        SendMailRequests - before.SendMailRequests,
        MessagesAccepted - before.MessagesAccepted,
        Requests - before.Requests);
}

/// <summary>One attachment of a recorded message (only the fields the bench checks).</summary>
internal sealed record RecordedAttachment(string Name, long Size, string Sha256);

/// <summary>One recorded message (only the fields the bench checks).</summary>
internal sealed record RecordedMessage(string Subject, string Via, List<RecordedAttachment> Attachments);

/// <summary>
/// One <c>pmp-graph-emulator serve --demo</c> process with a directory file that raises the
/// throttling limits, stopped by closing its stdin (<c>--exit-on-stdin-eof</c>).
/// </summary>
internal sealed class Emulator : IAsyncDisposable
{
    // The built-in demo registration (contracts §6, --demo).
    public const string TenantId = "11111111-1111-1111-1111-111111111111";
    public const string ClientId = "22222222-2222-2222-2222-222222222222";
    public const string Secret = "demo-secret-value";
    public const string Mailbox = "alerts@contoso.onmicrosoft.com";
    public const string GraphScope = "https://graph.microsoft.com/.default";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Process _process;
    private readonly string _workDir;
    private readonly HttpClient _control;
    private readonly StringBuilder _stderr;

    private Emulator(Process process, string workDir, StringBuilder stderr, string baseUrl, string authorityHost, string graphRoot, string controlUrl, string caPem)
    {
        _process = process;
        _workDir = workDir;
        _stderr = stderr;
        BaseUrl = baseUrl;
        AuthorityHost = authorityHost;
        GraphRoot = graphRoot;
        CaPem = caPem;
        Ca = X509Certificate2.CreateFromPem(caPem);
        _control = new HttpClient(EmulatorTrust.CreateHandler(Ca))
        {
            BaseAddress = new Uri(controlUrl + "/"),
            Timeout = TimeSpan.FromSeconds(60),
        };
    }

    public string BaseUrl { get; }

    public string AuthorityHost { get; }

    public string GraphRoot { get; }

    public string CaPem { get; }

    public X509Certificate2 Ca { get; }

    public static async Task<Emulator> StartAsync(string binary)
    {
        var workDir = Directory.CreateTempSubdirectory("pmp-bench-").FullName;
        var stateDir = Path.Combine(workDir, "state");
        Directory.CreateDirectory(stateDir);
        var configPath = Path.Combine(workDir, "throttling.toml");
        // --demo supplies tenant, app and mailbox; this file only lifts the throttling limits so
        // neither side is slowed down by 429s (the defaults allow 4 concurrent requests).
        await File.WriteAllTextAsync(configPath, """
            [throttling]
            maxConcurrent = 256
            maxRequests = 10000000
            windowSeconds = 600

            """);

        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[]
                 {
                     "serve", "--demo", "--config", configPath, "--state-dir", stateDir,
                     "--listen", "127.0.0.1:0", "--exit-on-stdin-eof",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        var stderr = new StringBuilder();
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {binary}");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        string? first;
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try
            {
                first = await process.StandardOutput.ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"emulator printed no startup line within 60 s. stderr:\n{stderr}");
            }
        }

        if (first is null)
        {
            await process.WaitForExitAsync();
            throw new InvalidOperationException($"emulator exited ({process.ExitCode}) before its startup line. stderr:\n{stderr}");
        }

        // Keep draining stdout so the emulator never blocks on a full pipe.
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        });

        using var doc = JsonDocument.Parse(first);
        var root = doc.RootElement;
        string Get(string name) => root.GetProperty(name).GetString()!.TrimEnd('/');
        var caPem = await File.ReadAllTextAsync(Get("caPath"));
        return new Emulator(process, workDir, stderr, Get("baseUrl"), Get("authorityHost"), Get("graphRoot"), Get("controlUrl"), caPem);
    }

    public Task<Counters> CountersAsync() => GetAsync<Counters>("counters");

    public Task<List<RecordedMessage>> MessagesAsync() => GetAsync<List<RecordedMessage>>("messages");

    public string StderrTail
    {
        get
        {
            lock (_stderr)
            {
                var s = _stderr.ToString();
                return s.Length <= 2000 ? s : s[^2000..];
            }
        }
    }

    private async Task<T> GetAsync<T>(string path)
    {
        using var resp = await _control.GetAsync(path);
        var text = await resp.Content.ReadAsStringAsync();
        if (!resp.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {path}: {(int)resp.StatusCode} {text}");
        }

        return JsonSerializer.Deserialize<T>(text, Json)
            ?? throw new InvalidOperationException($"GET {path}: empty body");
    }

    public async ValueTask DisposeAsync()
    {
        _control.Dispose();
        try
        {
            _process.StandardInput.Close();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None);
            }
        }
        finally
        {
            _process.Dispose();
            Ca.Dispose();
            try
            {
                Directory.Delete(_workDir, recursive: true);
            }
            catch (IOException)
            {
                // Leftovers in the temp folder do no harm.
            }
        }
    }
}
