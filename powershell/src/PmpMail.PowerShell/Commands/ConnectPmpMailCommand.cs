using System.Linq;
using System.Management.Automation;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Connects once for the session: later PmpMail cmdlets without credentials use this connection, and its
/// token cache and HTTP connections, until Disconnect-PmpMail.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "PmpMail", DefaultParameterSetName = ClientSecretSet)]
[OutputType(typeof(PmpMailConnection))]
public sealed class ConnectPmpMailCommand : PmpMailConnectedCmdletBase
{
    /// <summary>Do not fetch a token now (by default Connect-PmpMail checks the credentials right away).</summary>
    [Parameter]
    public SwitchParameter SkipValidation { get; set; }

    /// <summary>Return the connection object.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        PmpMailConnection connection = AcquireConnectionOrStop();
        bool google = connection.Provider == PmpMailProvider.GoogleWorkspace;
        if (!SkipValidation && google && connection.Impersonate is null)
        {
            // Google's tokens are per user: without -Impersonate there is no user to validate with yet.
            WriteVerbose("Not validated: a Google Workspace connection without -Impersonate gets a token per sender when it sends.");
        }
        else if (!SkipValidation)
        {
            try
            {
                string? mailbox = google ? connection.Impersonate : null;
                PmpPermissionReport report = RunNative(stop => connection.Client.TestPermissions(mailbox, false, stop));
                WriteLog(report.Log);
                if (!report.Authenticated)
                {
                    var error = PmpMailException.Create(google && report.Error is not null ? (PmpStatus)report.Error.Status : PmpStatus.AuthenticationFailed, report.Error);
                    ThrowTerminatingError(ErrorMapper.ToErrorRecord(error, "ConnectFailed", connection));
                }

                // A system-assigned managed identity is known by its client id only from its token.
                connection.ClientId ??= report.AppId;
                string who = connection.ManagedIdentity is null ? $"app {report.AppId}" : $"managed identity {report.AppId}";
                if (google)
                {
                    WriteVerbose($"Connected as service account '{report.AppDisplayName}' (client id {report.AppId}) for {connection.Impersonate}; token expires {report.TokenExpiresOn:u}.");
                }
                else if (report.RolesReadable && !report.Permissions.Any(p => p.Name == "Mail.Send" && p.Status == "Granted"))
                {
                    WriteWarning($"Connected, but {who} does not hold the Mail.Send application permission: sending will fail with 403. Run Test-PmpMailPermission for details.");
                }

                if (!google)
                {
                    WriteVerbose($"Connected as '{report.AppDisplayName}' ({who}) in tenant {report.TenantId}; token expires {report.TokenExpiresOn:u}.");
                }
            }
            catch (PmpMailException ex)
            {
                WriteLog(ex.Detail.Log);
                ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, "ConnectFailed", connection));
            }
        }

        // The session keeps a connection built here; a borrowed -Connection becomes the session one as is.
        ReleaseOwnership();
        SessionConnection.Set(connection);
        if (PassThru)
        {
            WriteObject(connection);
        }
    }
}
