# PmpMail's root module: imports the build of the cmdlets for the running PowerShell edition. The manifest
# (PmpMail.psd1) names what is exported; nothing else happens here, so import stays fast.
#   PowerShell 7.4+ (Core)             PmpMail.PowerShell.dll beside this file (net8.0)
#   Windows PowerShell 5.1 (Desktop)   Desktop\PmpMail.PowerShell.dll (netstandard2.0, on .NET Framework 4.7.2+,
#                                      with System.Text.Json and the packages it needs, which .NET Framework lacks)
# Both use the one native library under runtimes/<rid>/native/.
if ($PSEdition -eq 'Desktop') {
    $binaryPath = [System.IO.Path]::Combine($PSScriptRoot, 'Desktop', 'PmpMail.PowerShell.dll')
}
elseif ($PSVersionTable.PSVersion -ge [version]'7.4') {
    $binaryPath = [System.IO.Path]::Combine($PSScriptRoot, 'PmpMail.PowerShell.dll')
}
else {
    throw "PmpMail needs PowerShell 7.4 or later, or Windows PowerShell 5.1; this is PowerShell $($PSVersionTable.PSVersion)."
}

$binaryModule = Import-Module -Name $binaryPath -PassThru
$ExecutionContext.SessionState.Module.OnRemove = { Remove-Module -ModuleInfo $binaryModule }.GetNewClosure()
