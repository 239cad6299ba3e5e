# Windows Update through the Windows Update Agent COM API, for the SysManage agent.
# Input: the environment variable SYSMANAGE_WUA_REQUEST, a JSON object:
#   {"action":"scan"} or {"action":"install","update_ids":["<UpdateID GUID>", ...]}
# Output: exactly one JSON document on stdout, with "kind" = scan, install or error.
# Written against the WUA API of Windows 10 22H2, Windows 11 23H2 and Server 2022.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

function Write-Json($value) {
    [Console]::Out.Write(($value | ConvertTo-Json -Depth 6 -Compress))
}

function Test-RebootPending {
    $keys = @(
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired',
        'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
    )
    foreach ($key in $keys) { if (Test-Path -LiteralPath $key) { return $true } }
    $session = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -ErrorAction SilentlyContinue
    return ($null -ne $session -and $null -ne $session.PendingFileRenameOperations)
}

try {
    $request = $env:SYSMANAGE_WUA_REQUEST | ConvertFrom-Json
    $session = New-Object -ComObject 'Microsoft.Update.Session'
    $session.ClientApplicationID = 'sysmanage-agent'
    $searcher = $session.CreateUpdateSearcher()
    $found = $searcher.Search('IsInstalled=0 and IsHidden=0')

    if ($request.action -eq 'scan') {
        $updates = @(foreach ($update in $found.Updates) {
            [ordered]@{
                title           = $update.Title
                update_id       = $update.Identity.UpdateID
                revision_number = $update.Identity.RevisionNumber
                kb_article_ids  = @(foreach ($kb in $update.KBArticleIDs) { [string]$kb })
                categories      = @(foreach ($category in $update.Categories) {
                    [ordered]@{ id = $category.CategoryID; name = $category.Name; type = $category.Type }
                })
                msrc_severity   = $update.MsrcSeverity
                is_downloaded   = $update.IsDownloaded
                reboot_behavior = $update.InstallationBehavior.RebootBehavior
            }
        })
        Write-Json ([ordered]@{ kind = 'scan'; updates = $updates; reboot_pending = (Test-RebootPending) })
    }
    elseif ($request.action -eq 'install') {
        $wanted = @($request.update_ids)
        $selected = New-Object -ComObject 'Microsoft.Update.UpdateColl'
        foreach ($update in $found.Updates) {
            if ($wanted -contains $update.Identity.UpdateID) {
                if (-not $update.EulaAccepted) { $update.AcceptEula() }
                [void]$selected.Add($update)
            }
        }
        $results = @()
        $rebootRequired = $false
        if ($selected.Count -gt 0) {
            $downloader = $session.CreateUpdateDownloader()
            $downloader.Updates = $selected
            [void]$downloader.Download()
            $installer = $session.CreateUpdateInstaller()
            $installer.Updates = $selected
            $installation = $installer.Install()
            $rebootRequired = $installation.RebootRequired
            for ($index = 0; $index -lt $selected.Count; $index++) {
                $result = $installation.GetUpdateResult($index)
                $results += [ordered]@{
                    update_id       = $selected.Item($index).Identity.UpdateID
                    revision_number = $selected.Item($index).Identity.RevisionNumber
                    result_code     = [int]$result.ResultCode
                    hresult         = [int]$result.HResult
                }
            }
        }
        Write-Json ([ordered]@{
            kind            = 'install'
            results         = $results
            reboot_required = [bool]$rebootRequired
            reboot_pending  = (Test-RebootPending)
        })
    }
    else {
        Write-Json ([ordered]@{ kind = 'error'; message = "unknown action '$($request.action)'"; hresult = 0 })
    }
}
catch {
    $exception = $_.Exception
    while ($null -ne $exception.InnerException) { $exception = $exception.InnerException }
    Write-Json ([ordered]@{ kind = 'error'; message = $exception.Message; hresult = [int]$exception.HResult })
}
