# Runs in a child process for DesktopBuild.Tests.ps1: imports the module's Desktop build (netstandard2.0) and runs
# the cmdlets against the emulator; prints one JSON document with what it saw. Written for Windows PowerShell 5.1
# as well as pwsh (no ternary, no ??), because on Windows the test runs it in powershell.exe.
param(
    # The module manifest (powershell.exe) or Desktop\PmpMail.PowerShell.dll (pwsh: the Desktop build directly).
    [Parameter(Mandatory)] [string] $ImportPath,
    # JSON: endpoints, tenant, app, secret, PFX path and password, mailbox, attachment.
    [Parameter(Mandatory)] [string] $ArgumentsPath
)
$ErrorActionPreference = 'Stop'
$a = Get-Content -LiteralPath $ArgumentsPath -Raw -Encoding UTF8 | ConvertFrom-Json
Import-Module $ImportPath

function Get-Framework($assembly) {
    $attribute = $assembly.GetCustomAttributes([System.Runtime.Versioning.TargetFrameworkAttribute], $false) | Select-Object -First 1
    if ($attribute) { $attribute.FrameworkName } else { '' }
}

$endpoint = @{ AuthorityHost = $a.AuthorityHost; GraphRoot = $a.GraphRoot; TrustedCaPath = $a.CaPath }
$secret = ConvertTo-SecureString $a.Secret -AsPlainText -Force
$permissions = @(Test-PmpMailPermission @endpoint -TenantId $a.TenantId -ClientId $a.ClientId -ClientSecret $secret)
$pfxPassword = ConvertTo-SecureString $a.PfxPassword -AsPlainText -Force
# The certificate signs through the netstandard2.0 signer (a delegate) in this process.
$certificateQuiet = Test-PmpMailPermission @endpoint -TenantId $a.TenantId -ClientId $a.ClientId -CertificatePath $a.PfxPath -CertificatePassword $pfxPassword -Quiet
$sent = Send-PmpMail @endpoint -TenantId $a.TenantId -ClientId $a.ClientId -ClientSecret $secret `
    -From $a.Mailbox -To 'Zoë Müller <zoe@contoso.com>' -Subject $a.Subject -Body '<p>Grüße aus Windows PowerShell — 東京</p>' -BodyAsHtml `
    -Attachments $a.AttachmentPath -PassThru
$errorId = ''
try {
    Test-PmpMailPermission @endpoint -TenantId $a.TenantId -ClientId $a.ClientId -ClientSecret (ConvertTo-SecureString 'wrong-secret' -AsPlainText -Force) -ErrorAction Stop | Out-Null
}
catch {
    $errorId = $_.FullyQualifiedErrorId
}

[pscustomobject]@{
    PSEdition        = "$($PSVersionTable.PSEdition)"
    CmdletsPath      = [PmpMail.ModuleInitializer].Assembly.Location
    CmdletsFramework = Get-Framework ([PmpMail.ModuleInitializer].Assembly)
    InteropPath      = [PmpMail.Interop.PmpMailClient].Assembly.Location
    InteropFramework = Get-Framework ([PmpMail.Interop.PmpMailClient].Assembly)
    NativeVersion    = [PmpMail.Interop.PmpMailClient]::NativeVersion
    Permissions      = @($permissions | ForEach-Object { [pscustomobject]@{ Permission = $_.Permission; Status = $_.Status; AppDisplayName = $_.AppDisplayName } })
    CertificateQuiet = $certificateQuiet
    SendStatus       = $sent.Status
    ClientRequestId  = $sent.ClientRequestId
    WrongSecretError = $errorId
    Assemblies       = @([AppDomain]::CurrentDomain.GetAssemblies() | ForEach-Object { $_.GetName().Name })
} | ConvertTo-Json -Depth 5 -Compress
