using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace PmpGraphEmulator.TestSupport;

/// <summary>How to start one <see cref="EmulatorProcess"/>.</summary>
public sealed record EmulatorStartOptions
{
    /// <summary>The emulator binary; <c>null</c> finds it (<see cref="EmulatorProcess.FindBinary"/>).</summary>
    public string? Binary { get; init; }

    /// <summary>Prefix of the temporary work folder (it holds the config file and <c>state/</c>).</summary>
    public string TempPrefix { get; init; } = "pmp-emulator-";

    /// <summary>Adds <c>--demo</c>: the built-in contoso tenant, app and mailbox (contracts §6).</summary>
    public bool Demo { get; init; }

    /// <summary>
    /// Adds <c>--strict</c>: Graph's documented wire rules (no bearer on upload URLs, upload ranges up to 4 MiB,
    /// JSON content types) for suites whose client is pmp-mail; Microsoft's SDKs need the lenient default.
    /// </summary>
    public bool Strict { get; init; }

    /// <summary>File name of the <c>--config</c> directory file in the work folder (its extension picks TOML or JSON).</summary>
    public string ConfigFileName { get; init; } = "directory.toml";

    /// <summary>Content of the <c>--config</c> file; <c>null</c> passes no <c>--config</c>.</summary>
    public string? ConfigText { get; init; }

    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long <see cref="EmulatorProcess.DisposeAsync"/> waits after closing stdin before it kills.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Timeout of the control API client.</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// One <c>pmp-graph-emulator serve --listen 127.0.0.1:0 --exit-on-stdin-eof</c> process in a fresh
/// temporary folder: started, its JSON startup line read (contracts §6), its CA loaded, and a
/// CA-pinned control API client ready. Disposing closes its stdin (the emulator then exits), kills
/// it only if it does not, and deletes the folder.
/// </summary>
public sealed class EmulatorProcess : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly Task _stdoutPump;
    private readonly StringBuilder _log;
    private readonly string _workDir;
    private readonly TimeSpan _stopTimeout;
    private readonly HttpClient _controlHttp;
    private bool _disposed;

    private EmulatorProcess(Process process, Task stdoutPump, StringBuilder log, string workDir, TimeSpan stopTimeout, JsonElement info, string caPem, TimeSpan controlTimeout)
    {
        _process = process;
        _stdoutPump = stdoutPump;
        _log = log;
        _workDir = workDir;
        _stopTimeout = stopTimeout;
        string Url(string name) => info.GetProperty(name).GetString()!.TrimEnd('/');
        BaseUrl = Url("baseUrl");
        AuthorityHost = Url("authorityHost");
        GraphRoot = Url("graphRoot");
        ControlUrl = Url("controlUrl");
        CaPath = info.GetProperty("caPath").GetString()!;
        StateDir = info.GetProperty("stateDir").GetString()!;
        IdentityEndpoint = Url("identityEndpoint");
        IdentityHeader = info.GetProperty("identityHeader").GetString()!;
        ImdsTokenUrl = Url("imdsTokenUrl");
        ArcIdentityEndpoint = Url("arcIdentityEndpoint");
        ArcKeyDirectory = info.GetProperty("arcKeyDirectory").GetString()!;
        CaPem = caPem;
        Ca = X509Certificate2.CreateFromPem(caPem);
        _controlHttp = new HttpClient(EmulatorTrust.CreateHandler(Ca))
        {
            BaseAddress = new Uri(ControlUrl + "/"),
            Timeout = controlTimeout,
        };
        Control = new ControlApi(_controlHttp);
    }

    /// <summary>Every URL below is without a trailing slash.</summary>
    public string BaseUrl { get; }

    public string AuthorityHost { get; }

    public string GraphRoot { get; }

    public string ControlUrl { get; }

    public string CaPath { get; }

    public string StateDir { get; }

    /// <summary>The App Service / Functions managed-identity endpoint (<c>IDENTITY_ENDPOINT</c>, <c>{BaseUrl}/MSI/token</c>).</summary>
    public string IdentityEndpoint { get; }

    /// <summary>The secret the App Service endpoint wants as <c>X-IDENTITY-HEADER</c> (<c>IDENTITY_HEADER</c>).</summary>
    public string IdentityHeader { get; }

    /// <summary>The IMDS token URL (<c>{BaseUrl}/metadata/identity/oauth2/token</c>); its base is the IMDS base URL.</summary>
    public string ImdsTokenUrl { get; }

    /// <summary>The Azure Arc (HIMDS) <c>IDENTITY_ENDPOINT</c>; <see cref="BaseUrl"/> is its <c>IMDS_ENDPOINT</c>.</summary>
    public string ArcIdentityEndpoint { get; }

    /// <summary>Where the Arc endpoint writes the key files its challenges name.</summary>
    public string ArcKeyDirectory { get; }

    public string CaPem { get; }

    /// <summary>The emulator's CA (disposed with this object).</summary>
    public X509Certificate2 Ca { get; }

    public ControlApi Control { get; }

    /// <summary>What the emulator wrote to stderr and, after the startup line, to stdout.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>
    /// The emulator binary: <c>PMP_EMULATOR_BIN</c>, else <c>$CARGO_TARGET_DIR/debug</c>, else
    /// <c>target/debug</c> in the nearest folder above this assembly that has one.
    /// </summary>
    public static string FindBinary()
    {
        var name = OperatingSystem.IsWindows() ? "pmp-graph-emulator.exe" : "pmp-graph-emulator";
        var fromEnv = Environment.GetEnvironmentVariable("PMP_EMULATOR_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv)
                ? Path.GetFullPath(fromEnv)
                : throw new FileNotFoundException($"PMP_EMULATOR_BIN={fromEnv} does not exist");
        }

        var targetDir = Environment.GetEnvironmentVariable("CARGO_TARGET_DIR");
        if (!string.IsNullOrEmpty(targetDir) && File.Exists(Path.Combine(targetDir, "debug", name)))
        {
            return Path.GetFullPath(Path.Combine(targetDir, "debug", name));
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "target", "debug", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            "pmp-graph-emulator binary not found: set PMP_EMULATOR_BIN or CARGO_TARGET_DIR, or run " +
            "`cargo build -p pmp-graph-emulator` first");
    }

    /// <summary>Blocking <see cref="StartAsync"/>, for fixtures that start in a constructor.</summary>
    public static EmulatorProcess Start(EmulatorStartOptions options) =>
        StartAsync(options).GetAwaiter().GetResult();

    public static async Task<EmulatorProcess> StartAsync(EmulatorStartOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var binary = options.Binary ?? FindBinary();
        var workDir = Directory.CreateTempSubdirectory(options.TempPrefix).FullName;
        try
        {
            return await StartInAsync(binary, workDir, options).ConfigureAwait(false);
        }
        catch
        {
            TryDelete(workDir);
            throw;
        }
    }

    private static async Task<EmulatorProcess> StartInAsync(string binary, string workDir, EmulatorStartOptions options)
    {
        var stateDir = Path.Combine(workDir, "state");
        Directory.CreateDirectory(stateDir);
        var args = new List<string> { "serve" };
        if (options.Strict)
        {
            args.Add("--strict");
        }

        if (options.Demo)
        {
            args.Add("--demo");
        }

        if (options.ConfigText is not null)
        {
            var configPath = Path.Combine(workDir, options.ConfigFileName);
            await File.WriteAllTextAsync(configPath, options.ConfigText).ConfigureAwait(false);
            args.AddRange(["--config", configPath]);
        }

        args.AddRange(["--state-dir", stateDir, "--listen", "127.0.0.1:0", "--exit-on-stdin-eof"]);

        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var log = new StringBuilder();
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {binary}");
        try
        {
            process.ErrorDataReceived += (_, e) => Append(log, e.Data);
            process.BeginErrorReadLine();

            string? first;
            using (var cts = new CancellationTokenSource(options.StartupTimeout))
            {
                try
                {
                    first = await process.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    throw new InvalidOperationException(
                        $"emulator printed no startup line within {options.StartupTimeout.TotalSeconds:0} s. stderr:\n{Read(log)}");
                }
            }

            if (first is null)
            {
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"emulator exited ({process.ExitCode}) before printing its startup line. stderr:\n{Read(log)}");
            }

            // Keep draining stdout so the emulator never blocks on a full pipe.
            var pump = Task.Run(async () =>
            {
                string? line;
                while ((line = await process.StandardOutput.ReadLineAsync().ConfigureAwait(false)) is not null)
                {
                    Append(log, line);
                }
            });

            using var doc = JsonDocument.Parse(first);
            var info = doc.RootElement.Clone();
            var caPem = await File.ReadAllTextAsync(info.GetProperty("caPath").GetString()!).ConfigureAwait(false);
            return new EmulatorProcess(process, pump, log, workDir, options.StopTimeout, info, caPem, options.ControlTimeout);
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
            throw;
        }
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }

    private static string Read(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // Leftovers in the temp folder do no harm.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _controlHttp.Dispose();
        try
        {
            _process.StandardInput.Close(); // --exit-on-stdin-eof
            using var cts = new CancellationTokenSource(_stopTimeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            await _stdoutPump.ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
            Ca.Dispose();
            TryDelete(_workDir);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
