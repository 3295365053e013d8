using Microsoft.Identity.Client;

namespace PmpGraphEmulator.Fidelity.Tests;

/// <summary>
/// <see cref="EmulatorMsal.Builder"/> for this collection's tenant and app, with MSAL's log on
/// stderr (everything with PMP_FIDELITY_MSAL_VERBOSE=1, visible with --logger console).
/// </summary>
internal static class Msal
{
    public static ConfidentialClientApplicationBuilder Builder(
        EmulatorFixture emu,
        IMsalHttpClientFactory http,
        string clientId = EmulatorFixture.ClientId,
        MsalDiscovery discovery = MsalDiscovery.Off,
        string? tenant = null) =>
        EmulatorMsal.Builder(
            emu.AuthorityHost,
            tenant ?? EmulatorFixture.TenantId,
            clientId,
            http,
            discovery,
            new StderrMsalLogger("PMP_FIDELITY_MSAL_VERBOSE"));
}
