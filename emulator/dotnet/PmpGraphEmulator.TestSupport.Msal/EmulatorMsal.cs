using System.Security.Cryptography.X509Certificates;
using Microsoft.Identity.Client;
using Microsoft.IdentityModel.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;

namespace PmpGraphEmulator.TestSupport;

/// <summary>One request MSAL sent: method, URL and (for form posts) the decoded form fields.</summary>
public sealed record SentRequest(HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string> Form);

/// <summary>
/// MSAL's HTTP goes through one <see cref="HttpClient"/> that trusts only the emulator CA; with
/// <c>record: true</c> it also notes what MSAL sent so tests can check the wire shape the
/// emulator accepted.
/// </summary>
public sealed class TrustedMsalHttpClientFactory : IMsalHttpClientFactory, IDisposable
{
    private readonly HttpClient _client;
    private readonly Recorder? _recorder;

    public TrustedMsalHttpClientFactory(X509Certificate2 ca, bool record = true)
    {
        if (record)
        {
            _recorder = new Recorder { InnerHandler = EmulatorTrust.CreateHandler(ca) };
            _client = new HttpClient(_recorder);
        }
        else
        {
            _client = new HttpClient(EmulatorTrust.CreateHandler(ca));
        }
    }

    public IReadOnlyList<SentRequest> Sent
    {
        get
        {
            if (_recorder is null)
            {
                throw new InvalidOperationException("created with record: false");
            }

            lock (_recorder.Sent)
            {
                return [.. _recorder.Sent];
            }
        }
    }

    public HttpClient GetHttpClient() => _client;

    public void Dispose() => _client.Dispose();

    private sealed class Recorder : DelegatingHandler
    {
        public List<SentRequest> Sent { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var form = new Dictionary<string, string>(StringComparer.Ordinal);
            if (request.Content?.Headers.ContentType?.MediaType == "application/x-www-form-urlencoded")
            {
                // Buffer first so the body is still there to send after it was read here.
                await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
                var text = await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                foreach (var pair in text.Split('&', StringSplitOptions.RemoveEmptyEntries))
                {
                    var kv = pair.Split('=', 2);
                    form[Uri.UnescapeDataString(kv[0].Replace('+', ' '))] =
                        kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : string.Empty;
                }
            }

            lock (Sent)
            {
                Sent.Add(new SentRequest(request.Method, request.RequestUri!, form));
            }

            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>How MSAL finds out about the emulator's authority.</summary>
public enum MsalDiscovery
{
    /// <summary><c>WithInstanceDiscovery(false)</c>: no discovery request at all.</summary>
    Off,

    /// <summary><c>WithInstanceDiscoveryMetadata(uri)</c>: discovery from the emulator.</summary>
    FromEmulator,
}

/// <summary>
/// How a real app configures MSAL.NET for an Entra-compatible authority that is not a Microsoft
/// host: an AAD-type tenant authority, authority validation off, and instance discovery either
/// off or pointed at the authority's own discovery endpoint.
/// </summary>
public static class EmulatorMsal
{
    /// <param name="authorityHost">The emulator's authority host, without a trailing slash.</param>
    /// <param name="tenant">Tenant id or domain.</param>
    /// <param name="logger">MSAL's log sink; <c>null</c> leaves MSAL's logging off.</param>
    public static ConfidentialClientApplicationBuilder Builder(
        string authorityHost,
        string tenant,
        string clientId,
        IMsalHttpClientFactory http,
        MsalDiscovery discovery = MsalDiscovery.Off,
        IIdentityLogger? logger = null)
    {
        var b = ConfidentialClientApplicationBuilder.Create(clientId)
            .WithAuthority($"{authorityHost}/{tenant}/", validateAuthority: false)
            .WithHttpClientFactory(http);
        if (logger is not null)
        {
            b = b.WithLogging(logger, enablePiiLogging: false);
        }

        b = discovery switch
        {
            MsalDiscovery.Off => b.WithInstanceDiscovery(false),
            MsalDiscovery.FromEmulator =>
                b.WithInstanceDiscoveryMetadata(new Uri($"{authorityHost}/common/discovery/instance")),
            _ => throw new ArgumentOutOfRangeException(nameof(discovery)),
        };
        return b;
    }
}

/// <summary>MSAL log lines (warnings and worse, or everything when <c>verboseVariable</c> is "1") to stderr.</summary>
public sealed class StderrMsalLogger(string verboseVariable) : IIdentityLogger
{
    public bool IsEnabled(EventLogLevel eventLogLevel) =>
        eventLogLevel <= EventLogLevel.Warning
        || Environment.GetEnvironmentVariable(verboseVariable) == "1";

    public void Log(LogEntry entry) => Console.Error.WriteLine($"[msal] {entry.Message}");
}

/// <summary>
/// Kiota access-token provider over MSAL's client-credentials flow: the same thing
/// Azure.Identity's ClientSecretCredential does (MSAL underneath), without pulling Azure.Identity in.
/// </summary>
public sealed class MsalAccessTokenProvider(IConfidentialClientApplication app, string[] scopes, params string[] allowedHosts)
    : IAccessTokenProvider
{
    private int _calls;

    /// <summary>How many tokens were asked of MSAL (for an allowed host).</summary>
    public int Calls => Volatile.Read(ref _calls);

    public AllowedHostsValidator AllowedHostsValidator { get; } = new(allowedHosts);

    public async Task<string> GetAuthorizationTokenAsync(
        Uri uri,
        Dictionary<string, object>? additionalAuthenticationContext = null,
        CancellationToken cancellationToken = default)
    {
        if (!AllowedHostsValidator.IsUrlHostValid(uri))
        {
            return string.Empty;
        }

        Interlocked.Increment(ref _calls);
        var result = await app.AcquireTokenForClient(scopes).ExecuteAsync(cancellationToken).ConfigureAwait(false);
        return result.AccessToken;
    }
}
