using System.Diagnostics;
using System.Net.Http.Json;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace PmpMail.Interop.Tests;

/// <summary>Starts target/debug/pmp-graph-emulator with a directory covering the tests; stops it at the end.</summary>
public sealed class EmulatorFixture : IDisposable
{
    public const string TenantId = "11111111-1111-1111-1111-111111111111";
    public const string TenantDomain = "contoso.onmicrosoft.com";
    public const string SecretApp = "22222222-2222-2222-2222-222222222222";
    public const string CertificateApp = "33333333-3333-3333-3333-333333333333";
    public const string Secret = "xunit-secret-Ω";
    public const string Mailbox = "alerts@contoso.onmicrosoft.com";
    public const string MissingMailbox = "ghost@contoso.onmicrosoft.com";

    private readonly Process _process;
    private readonly HttpClient _control;

    public EmulatorFixture()
    {
        RepoRoot = typeof(EmulatorFixture).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == "RepoRoot").Value!;
        string targetDir = Environment.GetEnvironmentVariable("CARGO_TARGET_DIR") ?? Path.Combine(RepoRoot, "target");
        string exe = Environment.GetEnvironmentVariable("PMP_MAIL_EMULATOR") ?? Path.Combine(targetDir, "debug", OperatingSystem.IsWindows() ? "pmp-graph-emulator.exe" : "pmp-graph-emulator");
        StateDir = Directory.CreateTempSubdirectory("pmp-mail-xunit-").FullName;

        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=pmp-mail xunit", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        var directory = new JsonObject
        {
            ["throttling"] = new JsonObject { ["maxConcurrent"] = 64, ["maxRequests"] = 100000, ["windowSeconds"] = 600 },
            ["tenants"] = new JsonArray(new JsonObject { ["id"] = TenantId, ["domains"] = new JsonArray(TenantDomain) }),
            ["apps"] = new JsonArray(
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["clientId"] = SecretApp,
                    ["displayName"] = "xunit secret app",
                    ["roles"] = new JsonArray("Mail.Send", "Mail.ReadWrite"),
                    ["secrets"] = new JsonArray(new JsonObject { ["value"] = Secret, ["expires"] = "2099-01-01T00:00:00Z" }),
                },
                new JsonObject
                {
                    ["tenant"] = TenantId,
                    ["clientId"] = CertificateApp,
                    ["displayName"] = "xunit certificate app",
                    ["roles"] = new JsonArray("Mail.Send"),
                    ["certificates"] = new JsonArray(new JsonObject { ["pem"] = Certificate.ExportCertificatePem() }),
                }),
            ["mailboxes"] = new JsonArray(
                new JsonObject { ["tenant"] = TenantId, ["address"] = Mailbox },
                new JsonObject { ["tenant"] = TenantId, ["address"] = MissingMailbox, ["exists"] = false }),
        };
        string configPath = Path.Combine(StateDir, "directory.json");
        File.WriteAllText(configPath, directory.ToJsonString());

        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "serve", "--config", configPath, "--state-dir", StateDir, "--listen", "127.0.0.1:0", "--exit-on-stdin-eof" })
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException("Cannot start " + exe);
        _ = _process.StandardError.BaseStream.CopyToAsync(Stream.Null);
        Task<string?> line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result is null)
        {
            _process.Kill();
            throw new InvalidOperationException("The emulator did not start.");
        }

        _ = _process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        using JsonDocument info = JsonDocument.Parse(line.Result);
        BaseUrl = new Uri(info.RootElement.GetProperty("baseUrl").GetString()!);
        CaPem = File.ReadAllText(info.RootElement.GetProperty("caPath").GetString()!);
        ControlUrl = info.RootElement.GetProperty("controlUrl").GetString()!.TrimEnd('/') + "/";
        // The control API is loopback-only and uses the emulator's own CA.
        _control = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
        {
            BaseAddress = new Uri(ControlUrl),
        };
    }

    public string RepoRoot { get; }
    public string StateDir { get; }
    public Uri BaseUrl { get; }
    public string CaPem { get; }
    public string ControlUrl { get; }
    public X509Certificate2 Certificate { get; }

    public PmpMailConfig Config(string clientId, PmpMailCredential? credential) => new(TenantId, clientId)
    {
        AuthorityHost = BaseUrl,
        GraphRoot = BaseUrl,
        Credential = credential,
        Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = CaPem },
    };

    public PmpMailConfig SecretConfig(string secret = Secret) => Config(SecretApp, PmpMailCredential.FromClientSecret(secret));

    public JsonObject Counters() => _control.GetFromJsonAsync<JsonObject>("counters").GetAwaiter().GetResult()!;

    public JsonArray Messages() => _control.GetFromJsonAsync<JsonArray>("messages").GetAwaiter().GetResult()!;

    public void Dispose()
    {
        _control.Dispose();
        try
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(5000))
            {
                _process.Kill();
            }
        }
        finally
        {
            _process.Dispose();
            Certificate.Dispose();
            try
            {
                Directory.Delete(StateDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class EmulatorCollection : ICollectionFixture<EmulatorFixture>
{
    public const string Name = "emulator";
}
