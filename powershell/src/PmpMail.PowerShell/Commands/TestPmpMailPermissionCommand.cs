using System;
using System.Linq;
using System.Management.Automation;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Authenticates as the app registration and reports, per permission, whether its token holds it:
/// one <see cref="PermissionStatus"/> each, or $true/$false with -Quiet.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "PmpMailPermission", DefaultParameterSetName = SessionSet)]
[OutputType(typeof(PermissionStatus), typeof(bool))]
public sealed class TestPmpMailPermissionCommand : PmpMailConnectedCmdletBase
{
    /// <summary>Return only $true (Mail.Send, or gmail.send for Google Workspace, granted) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Ignore the token cache and ask Entra ID for a new token.</summary>
    [Parameter]
    public SwitchParameter ForceRefresh { get; set; }

    /// <summary>
    /// Show the advice (scoping, RBAC visibility) as warnings even when every permission is granted. Without it the
    /// advice is shown only when something needs attention (or with -Verbose), and is always in each result's Warnings.
    /// </summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        PmpMailConnection connection = AcquireConnectionOrStop();
        bool google = connection.Provider == PmpMailProvider.GoogleWorkspace;
        string required = google ? "gmail.send" : "Mail.Send";
        PmpPermissionReport report;
        try
        {
            bool forceRefresh = ForceRefresh.IsPresent;
            if (google && connection.Impersonate is null)
            {
                ThrowSetupError(new PmpMailSetupException(
                    "ImpersonateRequired",
                    "Testing a Google Workspace service account needs the user it acts as.",
                    "Pass -Impersonate with a user of the domain (the mailbox to send as)."), connection);
            }

            string? mailbox = google ? connection.Impersonate : null;
            report = RunNative(stop => connection.Client.TestPermissions(mailbox, forceRefresh, stop));
        }
        catch (PmpMailException ex)
        {
            WriteLog(ex.Detail.Log);
            if (Quiet)
            {
                WriteVerbose(ex.Message);
                WriteObject(false);
                return;
            }

            WriteError(ErrorMapper.ToErrorRecord(ex, "TestFailed", connection));
            return;
        }

        WriteLog(report.Log);
        if (!report.Authenticated)
        {
            PmpErrorDetail error = report.Error ?? new PmpErrorDetail { Status = (uint)PmpStatus.AuthenticationFailed, Category = "authentication", Message = (google ? "Google" : "Entra ID") + " rejected the credentials." };
            // Google's refusals carry their own status (PERMISSION_DENIED when the delegation is missing).
            var exception = PmpMailException.Create(google && report.Error is not null ? (PmpStatus)error.Status : PmpStatus.AuthenticationFailed, error);
            if (google && !Quiet)
            {
                // gmail.send is Missing (delegation not granted) or Unknown: the verdicts go out with the remedy.
                string[] remedy = error.Remedy is null ? [] : [error.Remedy];
                WritePermissions(report, remedy);
            }

            if (Quiet)
            {
                WriteVerbose(exception.Message);
                WriteObject(false);
                return;
            }

            WriteError(ErrorMapper.ToErrorRecord(exception, "TestFailed", connection));
            return;
        }

        WriteVerbose(google
            ? $"Authenticated as service account '{report.AppDisplayName}' (client id {report.AppId}) for {connection.Impersonate}; token from {report.TokenSource}, expires {report.TokenExpiresOn:u}; scopes: {string.Join(", ", report.Roles)}."
            : $"Authenticated as '{report.AppDisplayName}' (app {report.AppId}) in tenant {report.TenantId}; token from {report.TokenSource}, expires {report.TokenExpiresOn:u}; roles: {string.Join(", ", report.Roles)}.");
        var warnings = report.Warnings.Select(w => PowerShellTerms.Translate(w) ?? w).ToList();
        if (!report.RolesReadable)
        {
            warnings.Add("The access token is not a readable JWT, so permissions are reported as Unknown. Sending may still work.");
        }

        // Every run of a scheduled check would repeat the same advice: it is shown as warnings only when something
        // needs attention (a permission not granted, roles unreadable, a signing certificate about to expire) or with
        // -Detailed; otherwise it goes to the verbose stream, and it is always in the result's Warnings.
        bool attention = !report.RolesReadable
            || report.Permissions.Any(p => p.Status != "Granted")
            || connection.SigningCertificate is { } certificate && certificate.NotAfter.ToUniversalTime() < DateTime.UtcNow.AddDays(30);
        // -Quiet means quiet: the advice goes to the verbose stream instead.
        Action<string> show = !Quiet && (attention || Detailed) ? WriteWarning : WriteVerbose;
        foreach (string warning in warnings)
        {
            show(warning);
        }

        if (Quiet)
        {
            WriteObject(report.Permissions.Any(p => p.Name == required && p.Status == "Granted"));
            return;
        }

        WritePermissions(report, warnings);
    }

    private void WritePermissions(PmpPermissionReport report, System.Collections.Generic.IReadOnlyList<string> warnings)
    {
        foreach (PmpPermissionEntry entry in report.Permissions)
        {
            WriteObject(new PermissionStatus
            {
                Permission = entry.Name,
                Status = entry.Status,
                Required = entry.Required,
                NeededFor = entry.NeededFor,
                TenantId = report.TenantId,
                AppId = report.AppId,
                AppDisplayName = report.AppDisplayName,
                TokenExpiresOn = report.TokenExpiresOn,
                TokenSource = report.TokenSource,
                Warnings = warnings,
            });
        }
    }
}
