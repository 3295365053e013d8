@{
    Synopsis    = 'Checks that an app registration (or a managed or workload identity) can authenticate and holds the Mail.Send application permission.'
    Description = @'
Test-PmpMailPermission gets an access token for the app registration (from the cache unless -ForceRefresh) and reads the application roles granted with admin consent. It returns one PmpMail.PermissionStatus per permission that sending can need: Mail.Send (required) and Mail.ReadWrite (needed for attachments of 3 MB or more), each Granted, Missing, or Unknown when the token cannot be read. The default view shows an "App Registration Connection Status" table with OK in green and Missing in red.

When Entra ID rejects the credentials, it writes an error whose id carries the AADSTS code (PmpMail.AuthenticationFailed.AADSTS7000215 for a wrong secret, AADSTS7000222 for an expired one, AADSTS700016 for an unknown app, AADSTS90002 for an unknown tenant) and whose message says what to do. -Quiet returns only $true or $false. The test's advice (Mail.Send reaches every mailbox unless scoped; Exchange RBAC grants are invisible in the token) and its warnings are in each result's Warnings property. They are written as warnings only when something needs attention (a permission Missing or Unknown, or the signing certificate expiring within 30 days) or with -Detailed, so a scheduled check that finds everything granted stays silent; otherwise they go to the verbose stream with the token details and every step.

A managed identity has no app registration to consent in. When its token lacks Mail.Send, the Warnings name the identity's object id and give the New-MgServicePrincipalAppRoleAssignment and az rest commands that assign the Graph application role to its service principal. The platform caches managed-identity tokens for up to 24 hours, so a new role may show only later, even with -ForceRefresh.
'@
    Parameters  = @{
        Quiet        = 'Returns only $true when Mail.Send is granted, otherwise $false (also when authentication fails). Writes no error.'
        ForceRefresh = 'Asks Entra ID for a new token instead of using the cached one, for example right after granting a permission.'
        Detailed     = 'Writes the advice as warnings even when every permission is granted (without it, they are warnings only when something needs attention, and verbose output otherwise).'
    }
    Outputs     = @{
        'PmpMail.PermissionStatus' = 'Permission, Status (Granted, Missing, Unknown), Required, NeededFor, TenantId, AppId, AppDisplayName, TokenExpiresOn, TokenSource, Warnings (the advice and warnings of the test).'
        'System.Boolean'           = 'With -Quiet.'
    }
    Examples    = @(
        @{
            Title   = 'Test a Google Workspace service account''s domain-wide delegation'
            Code    = @'
Test-PmpMailPermission -ServiceAccountKeyPath ./pmp-sender.json -Impersonate 'alerts@example.com'
'@
            Remarks = 'Reports gmail.send Granted, or Missing with an error naming the Admin console page (Security > Access and data control > API controls > Domain-wide delegation), the service account''s client id and the scope to allow; and Gmail API (enabled in the Cloud project, Gmail on for the user). -Quiet returns $true only when gmail.send is granted.'
        }
        @{
            Title   = 'Check the existing app registration with its certificate (real tenant)'
            Code    = @'
Test-PmpMailPermission -TenantId 'contoso.onmicrosoft.com' -ClientId '0f5c2f8e-1234-4c1d-9d3e-5a6b7c8d9e0f' `
    -CertificateThumbprint 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678'

   App Registration Connection Status: 'Intune publishing' (app 0f5c2f8e-...) in tenant 3c1d...

Permission       Status    Required NeededFor
----------       ------    -------- ---------
Mail.Send        OK        True     sending mail (sendMail)
Mail.ReadWrite   Missing   False    attachments of 3 MB or more (draft + upload session)
'@
            Remarks = 'The app registration already used for Intune publishing can send (Mail.Send OK); attachments of 3 MB or more would also need Mail.ReadWrite.'
        }
        @{
            Title   = 'Gate a script on the permission'
            Code    = @'
if (-not (Test-PmpMailPermission -ProfileName 'contoso-mail' -Quiet)) {
    throw 'The app cannot send mail: grant Mail.Send (application) and admin consent.'
}
'@
            Remarks = '-Quiet returns $true or $false and writes no error.'
        }
        @{
            Title   = 'Diagnose a failing secret'
            Code    = @'
$cred = Get-Credential -UserName '0f5c2f8e-1234-4c1d-9d3e-5a6b7c8d9e0f' -Message 'Client secret'
Test-PmpMailPermission -TenantId 'contoso.onmicrosoft.com' -ClientSecretCredential $cred -ErrorVariable err
$err[0].FullyQualifiedErrorId   # e.g. PmpMail.AuthenticationFailed.AADSTS7000222,PmpMail.Commands.TestPmpMailPermissionCommand
$err[0].Exception.Remedy
'@
            Remarks = 'AADSTS7000222 means the secret expired: create a new one under Certificates & secrets of the app registration.'
        }
        @{
            Title   = 'Against the local emulator'
            Code    = @'
# pmp-graph-emulator serve --demo --state-dir ./emu   (prints baseUrl, e.g. https://127.0.0.1:40123)
$emu = 'https://127.0.0.1:40123'
Test-PmpMailPermission -TenantId 'contoso.onmicrosoft.com' -ClientId '22222222-2222-2222-2222-222222222222' `
    -CertificatePath ./emu/demo-app.pfx -CertificatePassword (ConvertTo-SecureString 'demo' -AsPlainText -Force) `
    -AuthorityHost $emu -GraphRoot $emu -TrustedCaPath ./emu/ca.pem -Verbose
'@
            Remarks = 'Uses the demo app''s certificate from the emulator''s state folder. The demo app holds Mail.Send and Mail.ReadWrite, so both show OK.'
        }
        @{
            Title   = 'Check a user-assigned managed identity on an Azure VM and get the commands that grant Mail.Send'
            Code    = @'
$result = Test-PmpMailPermission -ManagedIdentity -ClientId 'b0000000-0000-0000-0000-000000000001'
$result | Where-Object Permission -EQ 'Mail.Send'
$result[0].Warnings
'@
            Remarks = 'When Mail.Send is Missing, the warnings hold New-MgServicePrincipalAppRoleAssignment and az rest commands naming the identity''s object id, for an admin to run.'
        }
    )
    Links       = @('Send-PmpMail', 'Connect-PmpMail')
}
