using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Xunit;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>
/// Starts <c>pmp-graph-emulator serve</c> once for the whole collection, with a directory file
/// naming one tenant, one app (secret + certificate) and one mailbox, and stops it at the end
/// by closing its stdin (<c>--exit-on-stdin-eof</c>).
/// </summary>
public sealed class EmulatorFixture : IAsyncLifetime
{
    public const string TenantId = "5d3e1c2b-7a4f-4e8d-9c61-0f2a3b4c5d6e";
    public const string TenantDomain = "fidelity.onmicrosoft.com";
    public const string ClientId = "8f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    public const string OtherClientId = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    public const string AppDisplayName = "Fidelity test app";

    // Characters that must survive form encoding: '+', '&', '=', '%', '~', '/'.
    public const string ClientSecret = "Fx8~Q.s3cr3t+&=/%value";
    public const string Mailbox = "alerts@fidelity.onmicrosoft.com";
    public const string GraphScope = "https://graph.microsoft.com/.default";

    public static readonly string[] GrantedRoles = ["Mail.Send", "Mail.ReadWrite"];
    public const string UnconsentedRole = "Mail.Read";

    private readonly StringBuilder _log = new();
    private Process? _process;
    private Task? _stdoutPump;
    private string? _workDir;

    public string BaseUrl { get; private set; } = string.Empty;

    public string AuthorityHost { get; private set; } = string.Empty;

    public string GraphRoot { get; private set; } = string.Empty;

    public string ControlUrl { get; private set; } = string.Empty;

    public string StateDir { get; private set; } = string.Empty;

    public X509Certificate2 Ca { get; private set; } = null!;

    public X509Certificate2 AppCertificate { get; private set; } = null!;

    /// <summary>A certificate with a private key that is registered for no app.</summary>
    public X509Certificate2 UnregisteredCertificate { get; private set; } = null!;

    public ControlApi Control { get; private set; } = null!;

    private HttpClient? _controlHttp;

    public string Authority => $"{AuthorityHost}/{TenantId}/";

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

    public async Task InitializeAsync()
    {
        var bin = FindEmulatorBinary();
        _workDir = Directory.CreateTempSubdirectory("pmp-fidelity-").FullName;
        var stateDir = Path.Combine(_workDir, "state");
        Directory.CreateDirectory(stateDir);

        AppCertificate = CreateSelfSigned("CN=pmp-fidelity-app");
        UnregisteredCertificate = CreateSelfSigned("CN=pmp-fidelity-stranger");
        var configPath = Path.Combine(_workDir, "directory.toml");
        await File.WriteAllTextAsync(configPath, DirectoryToml(AppCertificate.ExportCertificatePem()));

        var psi = new ProcessStartInfo(bin)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var a in new[]
                 {
                     "serve", "--config", configPath, "--state-dir", stateDir,
                     "--listen", "127.0.0.1:0", "--exit-on-stdin-eof",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {bin}");
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? first;
        try
        {
            first = await _process.StandardOutput.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException($"emulator printed no startup line within 60 s. stderr:\n{Log}");
        }

        if (first is null)
        {
            await _process.WaitForExitAsync(CancellationToken.None);
            throw new InvalidOperationException(
                $"emulator exited ({_process.ExitCode}) before printing its startup line. stderr:\n{Log}");
        }

        _stdoutPump = Task.Run(async () =>
        {
            string? line;
            while ((line = await _process.StandardOutput.ReadLineAsync()) is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        });

        using (var doc = JsonDocument.Parse(first))
        {
            var root = doc.RootElement;
            BaseUrl = root.GetProperty("baseUrl").GetString()!.TrimEnd('/');
            AuthorityHost = root.GetProperty("authorityHost").GetString()!.TrimEnd('/');
            GraphRoot = root.GetProperty("graphRoot").GetString()!.TrimEnd('/');
            ControlUrl = root.GetProperty("controlUrl").GetString()!.TrimEnd('/');
            StateDir = root.GetProperty("stateDir").GetString()!;
            var caPath = root.GetProperty("caPath").GetString()!;
            Ca = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(caPath));
        }

        _controlHttp = new HttpClient(EmulatorTrust.CreateHandler(Ca))
        {
            BaseAddress = new Uri(ControlUrl + "/"),
            Timeout = TimeSpan.FromSeconds(30),
        };
        Control = new ControlApi(_controlHttp);
    }

    public async Task DisposeAsync()
    {
        _controlHttp?.Dispose();
        if (_process is not null)
        {
            try
            {
                _process.StandardInput.Close(); // --exit-on-stdin-eof
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

                if (_stdoutPump is not null)
                {
                    await _stdoutPump;
                }
            }
            finally
            {
                _process.Dispose();
            }
        }

        AppCertificate?.Dispose();
        UnregisteredCertificate?.Dispose();
        Ca?.Dispose();
        if (_workDir is not null)
        {
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

    private static string FindEmulatorBinary()
    {
        var fromEnv = Environment.GetEnvironmentVariable("PMP_EMULATOR_BIN");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return File.Exists(fromEnv)
                ? Path.GetFullPath(fromEnv)
                : throw new FileNotFoundException($"PMP_EMULATOR_BIN={fromEnv} does not exist");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "target", "debug", "pmp-graph-emulator");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            "pmp-graph-emulator binary not found: set PMP_EMULATOR_BIN or run emulator/fidelity/run.sh " +
            "(it runs `cargo build -p pmp-graph-emulator` first)");
    }

    private static X509Certificate2 CreateSelfSigned(string subject)
    {
        using var rsa = RSA.Create(2048);
        var req = new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var now = DateTimeOffset.UtcNow;
        using var cert = req.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(2));
        // Round-trip through PKCS#12 so the key is usable by every platform API MSAL calls.
        var pfx = cert.Export(X509ContentType.Pkcs12, "fidelity");
        return X509CertificateLoader.LoadPkcs12(pfx, "fidelity", X509KeyStorageFlags.Exportable);
    }

    private static string TomlString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                _ => c.ToString(),
            });
        }

        return sb.Append('"').ToString();
    }

    private static string DirectoryToml(string certPem)
    {
        var roles = string.Join(", ", GrantedRoles.Select(TomlString));
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $$"""
            tokenLifetimeSeconds = 3600

            [[tenants]]
            id = {{TomlString(TenantId)}}
            domains = [{{TomlString(TenantDomain)}}]
            cloud = "global"

            [[apps]]
            tenant = {{TomlString(TenantId)}}
            clientId = {{TomlString(ClientId)}}
            displayName = {{TomlString(AppDisplayName)}}
            enabled = true
            roles = [{{roles}}]
            unconsentedRoles = [{{TomlString(UnconsentedRole)}}]
            secrets = [{ value = {{TomlString(ClientSecret)}}, expires = "2099-01-01T00:00:00Z" }]
            certificates = [{ pem = {{TomlString(certPem)}} }]

            [[apps]]
            tenant = {{TomlString(TenantId)}}
            clientId = {{TomlString(OtherClientId)}}
            displayName = "Fidelity other app"
            roles = ["Mail.Send"]
            secrets = [{ value = "other-secret" }]

            [[mailboxes]]
            tenant = {{TomlString(TenantId)}}
            address = {{TomlString(Mailbox)}}
            exists = true
            restEnabled = true

            """);
    }
}

[CollectionDefinition(Name)]
public sealed class EmulatorCollection : ICollectionFixture<EmulatorFixture>
{
    public const string Name = "pmp-graph-emulator";
}
