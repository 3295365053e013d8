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
    /// <summary>Return only $true (Mail.Send granted) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Ignore the token cache and ask Entra ID for a new token.</summary>
    [Parameter]
    public SwitchParameter ForceRefresh { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        PmpMailConnection connection = AcquireConnectionOrStop();
        PmpPermissionReport report;
        try
        {
            report = connection.Client.TestPermissions(ForceRefresh.IsPresent);
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
            PmpErrorDetail error = report.Error ?? new PmpErrorDetail { Status = (uint)PmpStatus.AuthenticationFailed, Category = "authentication", Message = "Entra ID rejected the credentials." };
            var exception = PmpMailException.Create(PmpStatus.AuthenticationFailed, error);
            if (Quiet)
            {
                WriteVerbose(exception.Message);
                WriteObject(false);
                return;
            }

            WriteError(ErrorMapper.ToErrorRecord(exception, "TestFailed", connection));
            return;
        }

        WriteVerbose($"Authenticated as '{report.AppDisplayName}' (app {report.AppId}) in tenant {report.TenantId}; token from {report.TokenSource}, expires {report.TokenExpiresOn:u}; roles: {string.Join(", ", report.Roles)}.");
        // -Quiet means quiet: the advice goes to the verbose stream instead.
        Action<string> warn = Quiet ? WriteVerbose : WriteWarning;
        foreach (string warning in report.Warnings)
        {
            warn(warning);
        }

        if (!report.RolesReadable)
        {
            warn("The access token is not a readable JWT, so permissions are reported as Unknown. Sending may still work.");
        }

        if (Quiet)
        {
            WriteObject(report.Permissions.Any(p => p.Name == "Mail.Send" && p.Status == "Granted"));
            return;
        }

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
            });
        }
    }
}
