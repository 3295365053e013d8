using System.Security.Cryptography.X509Certificates;

namespace PmpMail.Bench;

/// <summary>
/// One <c>pmp-graph-emulator serve --demo</c> process (<see cref="EmulatorProcess"/>) with a
/// directory file that raises the throttling limits, stopped by closing its stdin.
/// </summary>
internal sealed class Emulator(EmulatorProcess process) : IAsyncDisposable
{
    // The built-in demo registration (contracts §6, --demo).
    public const string TenantId = "11111111-1111-1111-1111-111111111111";
    public const string ClientId = "22222222-2222-2222-2222-222222222222";
    public const string Secret = "demo-secret-value";
    public const string Mailbox = "alerts@contoso.onmicrosoft.com";
    public const string GraphScope = "https://graph.microsoft.com/.default";

    public string AuthorityHost => process.AuthorityHost;

    public string GraphRoot => process.GraphRoot;

    public string CaPem => process.CaPem;

    public X509Certificate2 Ca => process.Ca;

    public static async Task<Emulator> StartAsync(string binary) => new(await EmulatorProcess.StartAsync(new EmulatorStartOptions
    {
        Binary = binary,
        TempPrefix = "pmp-bench-",
        Demo = true,
        // --demo supplies tenant, app and mailbox; this file only lifts the throttling limits so
        // neither side is slowed down by 429s (the defaults allow 4 concurrent requests).
        ConfigFileName = "throttling.toml",
        ConfigText = """
            [throttling]
            maxConcurrent = 256
            maxRequests = 10000000
            windowSeconds = 600

            """,
    }));

    public Task<CountersRecord> CountersAsync() => process.Control.CountersAsync();

    public Task<List<RecordedMessage>> MessagesAsync() => process.Control.MessagesAsync();

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
